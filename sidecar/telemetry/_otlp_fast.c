/* sidecar.telemetry._otlp_fast: the OTLP span encoder's fast path in C (optional; see otlp_encode.py).
 *
 * SpanWriter(server_shapes, client_shapes, fallback, types...) is a callable that does, for one ended
 * span record, what SpanEncoder.python_span does when the span's shape (and, for a CLIENT span, the
 * one-call layout for the sizes of its varying values) is already cached: take the same shape key from
 * the record's slots, find the shape (first by comparing with the last shape's key, then in the
 * encoder's own dict), and write the bytes the PackedServerSpan / PackedClientSpan struct would. In
 * every other case (a new shape or layout, trace state, events, captured content, a value of an
 * unusual type, an error of any kind) it calls `fallback(record)`: the pure-Python path, which builds
 * and caches what is missing or takes its general path. So the C code decides nothing that the Python
 * code does not decide the same way; the tests hold the two paths to the same bytes.
 *
 * Slots are read at the offsets of the classes' member descriptors, found once when the writer is
 * made, and only from records whose type is exactly the class given.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <structmember.h>
#include <string.h>

/* ServerSpan and ClientSpan slots, in the order of the tables below. */
enum {
    S_TRACER, S_TRACE_ID, S_SPAN_ID, S_TRACE_STATE, S_START_NS, S_END_NS, S_EVENTS,
    S_METHOD, S_HTTP_ROUTE, S_PATH, S_DIALECT, S_REQUESTED_MODEL, S_REQUEST_STREAM, S_TARGETS,
    S_REJECTED_REASON, S_CACHE_HIT, S_STATUS_CODE, S_OUTCOME, S_ATTEMPTS, S_STREAMED, S_ROUTE,
    S_SERVED_MODEL, S_FALLBACK_REASON, S_ERROR_TYPE, S_ERROR, S_PARENT, S_COST_USD,
    S_COUNT
};
static const char *const server_slots[S_COUNT] = {
    "tracer", "trace_id", "span_id", "trace_state", "start_ns", "end_ns", "events",
    "method", "http_route", "path", "dialect", "requested_model", "request_stream", "targets",
    "rejected_reason", "cache_hit", "status_code", "outcome", "attempts", "streamed", "route",
    "served_model", "fallback_reason", "error_type", "error", "parent", "cost_usd",
};

enum {
    C_TRACER, C_TRACE_ID, C_SPAN_ID, C_TRACE_STATE, C_START_NS, C_END_NS, C_EVENTS,
    C_OPERATION, C_PROVIDER_NAME, C_REQUEST_MODEL, C_SERVER_ADDRESS, C_SERVER_PORT, C_TARGET,
    C_BREAKER_STATE, C_RESEND_COUNT, C_STREAM, C_STATUS_CODE, C_RESPONSE_MODEL, C_FINISH_REASONS,
    C_ERROR_TYPE, C_REQUEST_PARAMS, C_INPUT_MESSAGES, C_OUTPUT_MESSAGES, C_CONTENT_TRUNCATED,
    C_RESPONSE_ID, C_USAGE, C_TIME_TO_FIRST_CHUNK, C_SERVER,
    C_COUNT
};
static const char *const client_slots[C_COUNT] = {
    "tracer", "trace_id", "span_id", "trace_state", "start_ns", "end_ns", "events",
    "operation", "provider_name", "request_model", "server_address", "server_port", "target",
    "breaker_state", "resend_count", "stream", "status_code", "response_model", "finish_reasons",
    "error_type", "request_params", "input_messages", "output_messages", "content_truncated",
    "response_id", "usage", "time_to_first_chunk", "server",
};

/* PackedServerSpan and PackedClientSpan slots. */
enum { PS_HEAD, PS_MIDDLE, PS_ATTRIBUTES, PS_AFTER_COST, PS_COUNT };
static const char *const packed_server_slots[PS_COUNT] = {"head", "middle", "attributes", "after_cost"};

enum {
    PC_HEAD, PC_MIDDLE, PC_ATTRIBUTES, PC_INPUT_HEAD, PC_OUTPUT_HEAD, PC_CACHED_HEAD, PC_CHUNK_HEAD,
    PC_STATUS, PC_COUNT
};
static const char *const packed_client_slots[PC_COUNT] = {
    "head", "middle", "attributes", "input_head", "output_head", "cached_head", "chunk_head", "status",
};

typedef struct {
    PyObject_HEAD
    vectorcallfunc vectorcall;
    PyObject *server_shapes;  /* dict: server shape key -> (name_kind, attributes, status, packed|None) */
    PyObject *client_shapes;  /* dict: client shape key -> (name_kind, attributes, status, layouts|None) */
    PyObject *fallback;       /* SpanEncoder's pure-Python span(record) */
    PyObject *last_server_key, *last_server_shape, *last_client_key, *last_client_shape;
    PyTypeObject *server_type, *client_type, *packed_server_type, *packed_client_type, *usage_type;
    Py_ssize_t server_at[S_COUNT], client_at[C_COUNT];
    Py_ssize_t packed_server_at[PS_COUNT], packed_client_at[PC_COUNT];
} SpanWriter;

/* The slot at `offset` of `object` (borrowed), NULL when unset. */
#define SLOT(object, offset) (*(PyObject **)((char *)(object) + (offset)))

static int
slot_offsets(PyTypeObject *type, const char *const *names, Py_ssize_t count, Py_ssize_t *offsets)
{
    for (Py_ssize_t i = 0; i < count; i++) {
        PyObject *descriptor = PyObject_GetAttrString((PyObject *)type, names[i]);
        if (descriptor == NULL)
            return -1;
        if (!Py_IS_TYPE(descriptor, &PyMemberDescr_Type)
            || ((PyMemberDescrObject *)descriptor)->d_member->type != T_OBJECT_EX) {
            Py_DECREF(descriptor);
            PyErr_Format(PyExc_TypeError, "%s.%s is not a slot", type->tp_name, names[i]);
            return -1;
        }
        offsets[i] = ((PyMemberDescrObject *)descriptor)->d_member->offset;
        Py_DECREF(descriptor);
    }
    return 0;
}

/* --- the bytes of one span ----------------------------------------------------------------------- */

typedef struct {
    const char *data;
    Py_ssize_t size;
} Piece;

#define MAX_PIECES 24

typedef struct {
    Piece pieces[MAX_PIECES];
    int count;
    Py_ssize_t size;
} Pieces;

static inline void
add(Pieces *out, const char *data, Py_ssize_t size)
{
    out->pieces[out->count].data = data;
    out->pieces[out->count].size = size;
    out->count++;
    out->size += size;
}

/* Adds a bytes object (must be exact bytes, else -1). */
static inline int
add_bytes(Pieces *out, PyObject *value)
{
    if (value == NULL || !PyBytes_CheckExact(value))
        return -1;
    add(out, PyBytes_AS_STRING(value), PyBytes_GET_SIZE(value));
    return 0;
}

/* Adds a bytes object of exactly `size` bytes (ids), else -1. */
static inline int
add_sized(Pieces *out, PyObject *value, Py_ssize_t size)
{
    if (value == NULL || !PyBytes_CheckExact(value) || PyBytes_GET_SIZE(value) != size)
        return -1;
    add(out, PyBytes_AS_STRING(value), size);
    return 0;
}

static PyObject *
join(const Pieces *in)
{
    PyObject *result = PyBytes_FromStringAndSize(NULL, in->size);
    if (result == NULL)
        return NULL;
    char *at = PyBytes_AS_STRING(result);
    for (int i = 0; i < in->count; i++) {
        memcpy(at, in->pieces[i].data, (size_t)in->pieces[i].size);
        at += in->pieces[i].size;
    }
    return result;
}

/* The `count` slots of `object` at `at` into `slot` (borrowed); -1 if one is unset (Python then raises
 * its AttributeError). */
static int
read_slots(PyObject *object, const Py_ssize_t *at, int count, PyObject **slot)
{
    for (int i = 0; i < count; i++) {
        slot[i] = SLOT(object, at[i]);
        if (slot[i] == NULL)
            return -1;
    }
    return 0;
}

/* A nanosecond time as struct's "<Q" writes it; -1 if it is not an int from 0 to 2**64 - 1. */
static int
write_u64(PyObject *value, char *out)
{
    if (value == NULL || !PyLong_CheckExact(value) || Py_SIZE(value) < 0 || _PyLong_NumBits(value) > 64)
        return -1;
    unsigned long long number = PyLong_AsUnsignedLongLongMask(value);
    for (int i = 0; i < 8; i++)
        out[i] = (char)((number >> (8 * i)) & 0xFF);
    return 0;
}

/* A token count's varint (absent: 0 bytes); -1 for what only the general path writes. */
static int
write_count(PyObject *count, char *out)
{
    if (count == Py_None)
        return 0;
    if (!PyLong_CheckExact(count))
        return -1;
    int overflow = 0;
    long long number = PyLong_AsLongLongAndOverflow(count, &overflow);
    if (overflow || number < 0) {
        PyErr_Clear();
        return -1;
    }
    unsigned long long value = (unsigned long long)number;
    int size = 0;
    while (value >= 0x80) {
        out[size++] = (char)((value & 0x7F) | 0x80);
        value >>= 7;
    }
    out[size++] = (char)value;
    return size;
}

/* What every span starts with: the packed head (field tag, length, trace id tag), trace id, span id. */
static int
add_ids(Pieces *out, PyObject *head, PyObject *trace_id, PyObject *span_id)
{
    if (add_bytes(out, head) < 0 || add_sized(out, trace_id, 16) < 0)
        return -1;
    add(out, "\x12\x08", 2);
    return add_sized(out, span_id, 8);
}

/* The shape's name, kind and start time tag, then both times (into `times`, 17 bytes). */
static int
add_times(Pieces *out, PyObject *middle, PyObject *start_ns, PyObject *end_ns, char *times)
{
    if (add_bytes(out, middle) < 0 || write_u64(start_ns, times) < 0 || write_u64(end_ns, times + 9) < 0)
        return -1;
    times[8] = '\x41';
    add(out, times, 17);
    return 0;
}

/* --- shapes ---------------------------------------------------------------------------------------- */

/* Whether `a` and `b` are surely equal as parts of a dict key: the same object, or equal strings,
 * floats, ints or sequences of such. 0 only means "not known": the caller then looks the key up. */
static int
same(PyObject *a, PyObject *b)
{
    if (a == b)
        return 1;
    PyTypeObject *type = Py_TYPE(a);
    if (type == &PyUnicode_Type) {
        if (!Py_IS_TYPE(b, &PyUnicode_Type) || PyUnicode_GET_LENGTH(a) != PyUnicode_GET_LENGTH(b)
            || PyUnicode_KIND(a) != PyUnicode_KIND(b))
            return 0;
        return memcmp(PyUnicode_DATA(a), PyUnicode_DATA(b), (size_t)(PyUnicode_GET_LENGTH(a) * PyUnicode_KIND(a)))
               == 0;
    }
    if (type == &PyFloat_Type)
        return Py_IS_TYPE(b, &PyFloat_Type) && PyFloat_AS_DOUBLE(a) == PyFloat_AS_DOUBLE(b);
    if (type == &PyLong_Type) {
        if (!Py_IS_TYPE(b, &PyLong_Type))
            return 0;
        int equal = PyObject_RichCompareBool(a, b, Py_EQ);
        if (equal < 0)
            PyErr_Clear();
        return equal == 1;
    }
    if (PyTuple_Check(a) || PyList_CheckExact(a)) {  /* a key's sequence: a tuple (or a named one) or list */
        if (Py_TYPE(b) != type && !(PyTuple_CheckExact(b) && PyList_CheckExact(a)))
            return 0;
        Py_ssize_t size = PySequence_Fast_GET_SIZE(a);
        if (size != PySequence_Fast_GET_SIZE(b))
            return 0;
        PyObject **left = PySequence_Fast_ITEMS(a), **right = PySequence_Fast_ITEMS(b);
        for (Py_ssize_t i = 0; i < size; i++)
            if (!same(left[i], right[i]))
                return 0;
        return 1;
    }
    return 0;
}

/* The shape for the key `items` (borrowed) as a new reference; NULL with no error for a new shape.
 * The last key found and its shape are kept: most spans repeat the one before, and comparing the facts
 * costs less than hashing them. A key that cannot be hashed is an error (the Python path raises too). */
static PyObject *
find_shape(PyObject *shapes, PyObject **last_key, PyObject **last_shape, PyObject **items, Py_ssize_t count)
{
    PyObject *known = *last_key;
    if (known != NULL) {
        Py_ssize_t i = 0;
        while (i < count && same(items[i], PyTuple_GET_ITEM(known, i)))
            i++;
        if (i == count)
            return Py_NewRef(*last_shape);
    }
    PyObject *key = PyTuple_New(count);
    if (key == NULL)
        return NULL;
    for (Py_ssize_t i = 0; i < count; i++) {
        PyObject *item = items[i];
        if (PyList_CheckExact(item)) {  /* as the Python key converts them (targets, finish reasons) */
            item = PyList_AsTuple(item);
            if (item == NULL) {
                Py_DECREF(key);
                return NULL;
            }
        }
        else {
            Py_INCREF(item);
        }
        PyTuple_SET_ITEM(key, i, item);
    }
    PyObject *shape = Py_XNewRef(PyDict_GetItemWithError(shapes, key));
    if (shape != NULL) {
        Py_XSETREF(*last_key, key);
        Py_XSETREF(*last_shape, Py_NewRef(shape));
    }
    else {
        Py_DECREF(key);
    }
    return shape;
}

/* --- SERVER spans -------------------------------------------------------------------------------- */

/* The encoded span, NULL with no error set when the Python path must write it. */
static PyObject *
server_span(SpanWriter *self, PyObject *span)
{
    PyObject *slot[S_COUNT];
    if (read_slots(span, self->server_at, S_COUNT, slot) < 0)
        return NULL;
    PyObject *parent = slot[S_PARENT], *cost = slot[S_COST_USD], *targets = slot[S_TARGETS];
    PyObject *result = NULL, *parent_id = NULL, *shape = NULL, *link_number = NULL;
    long link = 0;
    if (PyObject_IsTrue(slot[S_TRACE_STATE]) != 0 || PyObject_IsTrue(slot[S_EVENTS]) != 0)
        goto done;  /* written by the general path (or an error, which Python raises again) */
    if (parent != Py_None) {
        PyObject *remote = PyObject_GetAttrString(parent, "is_remote");
        if (remote == NULL)
            goto done;
        int is_remote = PyObject_IsTrue(remote);
        Py_DECREF(remote);
        if (is_remote < 0)
            goto done;
        link = is_remote ? 2 : 1;
    }
    if (targets != Py_None && !PyTuple_CheckExact(targets) && !PyList_CheckExact(targets))
        goto done;  /* another sequence: Python's tuple() of it */
    link_number = PyLong_FromLong(link);
    if (link_number == NULL)
        goto done;
    PyObject *items[20] = {
        slot[S_METHOD], slot[S_HTTP_ROUTE], slot[S_PATH], slot[S_DIALECT], slot[S_REQUESTED_MODEL],
        slot[S_REQUEST_STREAM], targets, slot[S_REJECTED_REASON], slot[S_CACHE_HIT], slot[S_STATUS_CODE],
        slot[S_OUTCOME], slot[S_ATTEMPTS], slot[S_STREAMED], slot[S_ROUTE], slot[S_SERVED_MODEL],
        slot[S_FALLBACK_REASON], slot[S_ERROR_TYPE], slot[S_ERROR], link_number, (PyObject *)Py_TYPE(cost),
    };
    shape = find_shape(self->server_shapes, &self->last_server_key, &self->last_server_shape, items, 20);
    if (shape == NULL)
        goto done;  /* a new shape (no error), or an unhashable fact (TypeError: cleared below) */
    if (!PyTuple_CheckExact(shape) || PyTuple_GET_SIZE(shape) != 4)
        goto done;
    PyObject *packed = PyTuple_GET_ITEM(shape, 3);  /* held by shape */
    if (!Py_IS_TYPE(packed, self->packed_server_type))
        goto done;

    const Py_ssize_t *packed_at = self->packed_server_at;
    char times[17], linked[10], cost_bytes[8];
    Pieces out = {.count = 0, .size = 0};
    if (add_ids(&out, SLOT(packed, packed_at[PS_HEAD]), slot[S_TRACE_ID], slot[S_SPAN_ID]) < 0)
        goto done;
    if (link) {
        parent_id = PyObject_GetAttrString(parent, "span_id");
        if (parent_id == NULL)
            goto done;
        unsigned long long id;
        if (!PyLong_Check(parent_id)
            || ((id = PyLong_AsUnsignedLongLong(parent_id)) == (unsigned long long)-1 && PyErr_Occurred()))
            goto done;
        linked[0] = '\x22';
        linked[1] = '\x08';
        for (int i = 0; i < 8; i++)
            linked[2 + i] = (char)((id >> (8 * (7 - i))) & 0xFF);
        add(&out, linked, 10);
    }
    if (add_times(&out, SLOT(packed, packed_at[PS_MIDDLE]), slot[S_START_NS], slot[S_END_NS], times) < 0
        || add_bytes(&out, SLOT(packed, packed_at[PS_ATTRIBUTES])) < 0)
        goto done;
    if (cost != Py_None) {
        if (!PyFloat_CheckExact(cost) || PyFloat_Pack8(PyFloat_AS_DOUBLE(cost), cost_bytes, 1) < 0)
            goto done;
        add(&out, cost_bytes, 8);
        if (add_bytes(&out, SLOT(packed, packed_at[PS_AFTER_COST])) < 0)
            goto done;
    }
    result = join(&out);
done:
    if (result == NULL)
        PyErr_Clear();  /* whatever went wrong, the Python path meets it again */
    Py_XDECREF(shape);
    Py_XDECREF(parent_id);
    Py_XDECREF(link_number);
    return result;
}

/* --- CLIENT spans -------------------------------------------------------------------------------- */

static PyObject *
client_span(SpanWriter *self, PyObject *span)
{
    PyObject *slot[C_COUNT];
    if (read_slots(span, self->client_at, C_COUNT, slot) < 0)
        return NULL;
    PyObject *shape = NULL, *packed = NULL, *sizes = NULL, *result = NULL;
    if (slot[C_INPUT_MESSAGES] != Py_None || slot[C_OUTPUT_MESSAGES] != Py_None
        || PyObject_IsTrue(slot[C_TRACE_STATE]) != 0 || PyObject_IsTrue(slot[C_CONTENT_TRUNCATED]) != 0)
        goto done;  /* written by the general path (or an error, which Python raises again) */
    PyObject *params = slot[C_REQUEST_PARAMS];
    PyObject *shared_params = PyTuple_Check(params) ? params : Py_None;
    if (shared_params == Py_None && params != Py_None)
        goto done;  /* parameters encoded for each span: the general path */
    PyObject *reasons = slot[C_FINISH_REASONS];
    int has_reasons = PyObject_IsTrue(reasons);
    if (has_reasons < 0)
        goto done;
    if (has_reasons && !PyTuple_CheckExact(reasons) && !PyList_CheckExact(reasons))
        goto done;  /* another sequence: Python's tuple() of it */
    PyObject *items[14] = {
        slot[C_OPERATION], slot[C_PROVIDER_NAME], slot[C_REQUEST_MODEL], slot[C_SERVER_ADDRESS],
        slot[C_SERVER_PORT], slot[C_TARGET], slot[C_BREAKER_STATE], slot[C_RESEND_COUNT], slot[C_STREAM],
        slot[C_STATUS_CODE], slot[C_RESPONSE_MODEL], has_reasons ? reasons : Py_None, slot[C_ERROR_TYPE],
        shared_params,
    };
    shape = find_shape(self->client_shapes, &self->last_client_key, &self->last_client_shape, items, 14);
    if (shape == NULL)
        goto done;
    if (!PyTuple_CheckExact(shape) || PyTuple_GET_SIZE(shape) != 4)
        goto done;
    PyObject *layouts = PyTuple_GET_ITEM(shape, 3);  /* held by shape */
    if (!PyDict_CheckExact(layouts))
        goto done;

    /* client_values: response id, input, output and cached token counts, time to first chunk */
    const char *response = "";
    Py_ssize_t response_size = 0;
    PyObject *response_id = slot[C_RESPONSE_ID];
    int has_response = PyObject_IsTrue(response_id);
    if (has_response < 0)
        goto done;
    if (has_response) {
        if (!PyUnicode_CheckExact(response_id) || !PyUnicode_IS_ASCII(response_id)
            || PyUnicode_GET_LENGTH(response_id) >= 126)
            goto done;
        response = (const char *)PyUnicode_DATA(response_id);
        response_size = PyUnicode_GET_LENGTH(response_id);
    }
    char counts[3][10];
    int count_sizes[3] = {0, 0, 0};
    PyObject *usage = slot[C_USAGE];
    if (usage != Py_None) {
        if (!Py_IS_TYPE(usage, self->usage_type) || PyTuple_GET_SIZE(usage) != 3)
            goto done;
        for (int i = 0; i < 3; i++) {
            count_sizes[i] = write_count(PyTuple_GET_ITEM(usage, i), counts[i]);
            if (count_sizes[i] < 0)
                goto done;
        }
    }
    char chunk[8];
    int chunk_size = 0;
    PyObject *first_chunk = slot[C_TIME_TO_FIRST_CHUNK];
    if (first_chunk != Py_None) {
        if (!PyFloat_CheckExact(first_chunk) || PyFloat_Pack8(PyFloat_AS_DOUBLE(first_chunk), chunk, 1) < 0)
            goto done;
        chunk_size = 8;
    }
    const long size_values[5] = {(long)response_size, count_sizes[0], count_sizes[1], count_sizes[2], chunk_size};
    sizes = PyTuple_New(5);
    if (sizes == NULL)
        goto done;
    for (int i = 0; i < 5; i++) {
        PyObject *number = PyLong_FromLong(size_values[i]);  /* small: cached */
        if (number == NULL)
            goto done;
        PyTuple_SET_ITEM(sizes, i, number);
    }
    packed = Py_XNewRef(PyDict_GetItemWithError(layouts, sizes));
    if (packed == NULL)
        goto done;  /* a new layout: Python makes it */
    if (!Py_IS_TYPE(packed, self->packed_client_type))
        goto done;

    PyObject *server = slot[C_SERVER];
    if (!Py_IS_TYPE(server, self->server_type))
        goto done;
    PyObject *server_span_id = SLOT(server, self->server_at[S_SPAN_ID]);
    const Py_ssize_t *packed_at = self->packed_client_at;
    char times[17];
    Pieces out = {.count = 0, .size = 0};
    if (add_ids(&out, SLOT(packed, packed_at[PC_HEAD]), slot[C_TRACE_ID], slot[C_SPAN_ID]) < 0)
        goto done;
    add(&out, "\x22\x08", 2);
    if (add_sized(&out, server_span_id, 8) < 0
        || add_times(&out, SLOT(packed, packed_at[PC_MIDDLE]), slot[C_START_NS], slot[C_END_NS], times) < 0
        || add_bytes(&out, SLOT(packed, packed_at[PC_ATTRIBUTES])) < 0)
        goto done;
    add(&out, response, response_size);
    static const int heads[3] = {PC_INPUT_HEAD, PC_OUTPUT_HEAD, PC_CACHED_HEAD};
    for (int i = 0; i < 3; i++) {
        if (add_bytes(&out, SLOT(packed, packed_at[heads[i]])) < 0)
            goto done;
        add(&out, counts[i], count_sizes[i]);
    }
    if (add_bytes(&out, SLOT(packed, packed_at[PC_CHUNK_HEAD])) < 0)
        goto done;
    add(&out, chunk, chunk_size);
    if (add_bytes(&out, SLOT(packed, packed_at[PC_STATUS])) < 0)
        goto done;
    result = join(&out);
done:
    if (result == NULL)
        PyErr_Clear();  /* whatever went wrong, the Python path meets it again */
    Py_XDECREF(shape);
    Py_XDECREF(packed);
    Py_XDECREF(sizes);
    return result;
}

/* --- the type ------------------------------------------------------------------------------------ */

static PyObject *
SpanWriter_vectorcall(PyObject *callable, PyObject *const *args, size_t nargsf, PyObject *kwnames)
{
    SpanWriter *self = (SpanWriter *)callable;
    if (PyVectorcall_NARGS(nargsf) != 1 || (kwnames != NULL && PyTuple_GET_SIZE(kwnames) != 0)) {
        PyErr_SetString(PyExc_TypeError, "SpanWriter takes one positional argument: the span record");
        return NULL;
    }
    if (self->fallback == NULL) {
        PyErr_SetString(PyExc_TypeError, "SpanWriter.__init__ was not called");
        return NULL;
    }
    PyObject *record = args[0];
    PyObject *encoded = NULL;
    Py_ssize_t tracer_at = 0;
    if (Py_IS_TYPE(record, self->client_type)) {
        encoded = client_span(self, record);
        tracer_at = self->client_at[C_TRACER];
    }
    else if (Py_IS_TYPE(record, self->server_type)) {
        encoded = server_span(self, record);
        tracer_at = self->server_at[S_TRACER];
    }
    if (encoded == NULL)
        return PyObject_CallOneArg(self->fallback, record);
    PyObject *pair = PyTuple_New(2);
    if (pair == NULL) {
        Py_DECREF(encoded);
        return NULL;
    }
    PyTuple_SET_ITEM(pair, 0, Py_NewRef(SLOT(record, tracer_at)));
    PyTuple_SET_ITEM(pair, 1, encoded);
    return pair;
}

static PyObject *
SpanWriter_new(PyTypeObject *type, PyObject *args, PyObject *kwargs)
{
    SpanWriter *self = (SpanWriter *)PyType_GenericNew(type, args, kwargs);
    if (self != NULL)
        self->vectorcall = SpanWriter_vectorcall;
    return (PyObject *)self;
}

static int
SpanWriter_init(SpanWriter *self, PyObject *args, PyObject *kwargs)
{
    static char *keywords[] = {
        "server_shapes", "client_shapes", "fallback", "server_type", "client_type",
        "packed_server_type", "packed_client_type", "usage_type", NULL,
    };
    PyObject *server_shapes, *client_shapes, *fallback;
    PyTypeObject *server_type, *client_type, *packed_server_type, *packed_client_type, *usage_type;
    if (!PyArg_ParseTupleAndKeywords(
            args, kwargs, "O!O!OO!O!O!O!O!:SpanWriter", keywords, &PyDict_Type, &server_shapes, &PyDict_Type,
            &client_shapes, &fallback, &PyType_Type, &server_type, &PyType_Type, &client_type, &PyType_Type,
            &packed_server_type, &PyType_Type, &packed_client_type, &PyType_Type, &usage_type))
        return -1;
    if (!PyCallable_Check(fallback)) {
        PyErr_SetString(PyExc_TypeError, "fallback must be callable");
        return -1;
    }
    if (!PyType_IsSubtype(usage_type, &PyTuple_Type)) {
        PyErr_SetString(PyExc_TypeError, "usage_type must be a named tuple");
        return -1;
    }
    PyObject *fields = PyObject_GetAttrString((PyObject *)usage_type, "_fields");
    if (fields == NULL)
        return -1;
    PyObject *expected = Py_BuildValue("(sss)", "input_tokens", "output_tokens", "cached_input_tokens");
    int same = expected == NULL ? -1 : PyObject_RichCompareBool(fields, expected, Py_EQ);
    Py_DECREF(fields);
    Py_XDECREF(expected);
    if (same <= 0) {
        if (same == 0)
            PyErr_SetString(PyExc_TypeError, "usage_type's fields are not the ones SpanWriter reads");
        return -1;
    }
    if (slot_offsets(server_type, server_slots, S_COUNT, self->server_at) < 0
        || slot_offsets(client_type, client_slots, C_COUNT, self->client_at) < 0
        || slot_offsets(packed_server_type, packed_server_slots, PS_COUNT, self->packed_server_at) < 0
        || slot_offsets(packed_client_type, packed_client_slots, PC_COUNT, self->packed_client_at) < 0)
        return -1;
    Py_XSETREF(self->server_shapes, Py_NewRef(server_shapes));
    Py_XSETREF(self->client_shapes, Py_NewRef(client_shapes));
    Py_XSETREF(self->fallback, Py_NewRef(fallback));
    Py_XSETREF(self->server_type, (PyTypeObject *)Py_NewRef(server_type));
    Py_XSETREF(self->client_type, (PyTypeObject *)Py_NewRef(client_type));
    Py_XSETREF(self->packed_server_type, (PyTypeObject *)Py_NewRef(packed_server_type));
    Py_XSETREF(self->packed_client_type, (PyTypeObject *)Py_NewRef(packed_client_type));
    Py_XSETREF(self->usage_type, (PyTypeObject *)Py_NewRef(usage_type));
    Py_CLEAR(self->last_server_key);
    Py_CLEAR(self->last_server_shape);
    Py_CLEAR(self->last_client_key);
    Py_CLEAR(self->last_client_shape);
    self->vectorcall = SpanWriter_vectorcall;
    return 0;
}

static int
SpanWriter_traverse(SpanWriter *self, visitproc visit, void *arg)
{
    Py_VISIT(self->server_shapes);
    Py_VISIT(self->client_shapes);
    Py_VISIT(self->fallback);
    Py_VISIT(self->server_type);
    Py_VISIT(self->client_type);
    Py_VISIT(self->packed_server_type);
    Py_VISIT(self->packed_client_type);
    Py_VISIT(self->usage_type);
    Py_VISIT(self->last_server_key);
    Py_VISIT(self->last_server_shape);
    Py_VISIT(self->last_client_key);
    Py_VISIT(self->last_client_shape);
    return 0;
}

static int
SpanWriter_clear(SpanWriter *self)
{
    Py_CLEAR(self->server_shapes);
    Py_CLEAR(self->client_shapes);
    Py_CLEAR(self->fallback);
    Py_CLEAR(self->server_type);
    Py_CLEAR(self->client_type);
    Py_CLEAR(self->packed_server_type);
    Py_CLEAR(self->packed_client_type);
    Py_CLEAR(self->usage_type);
    Py_CLEAR(self->last_server_key);
    Py_CLEAR(self->last_server_shape);
    Py_CLEAR(self->last_client_key);
    Py_CLEAR(self->last_client_shape);
    return 0;
}

static void
SpanWriter_dealloc(SpanWriter *self)
{
    PyObject_GC_UnTrack(self);
    SpanWriter_clear(self);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyTypeObject SpanWriterType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "sidecar.telemetry._otlp_fast.SpanWriter",
    .tp_doc = PyDoc_STR(
        "SpanWriter(server_shapes, client_shapes, fallback, server_type, client_type, packed_server_type,"
        " packed_client_type, usage_type)(record) -> (tracer, bytes): SpanEncoder.span's cached-shape path"
        " in C; anything else goes to fallback(record)."),
    .tp_basicsize = sizeof(SpanWriter),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_HAVE_VECTORCALL,
    .tp_vectorcall_offset = offsetof(SpanWriter, vectorcall),
    .tp_new = SpanWriter_new,
    .tp_init = (initproc)SpanWriter_init,
    .tp_call = PyVectorcall_Call,
    .tp_traverse = (traverseproc)SpanWriter_traverse,
    .tp_clear = (inquiry)SpanWriter_clear,
    .tp_dealloc = (destructor)SpanWriter_dealloc,
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "sidecar.telemetry._otlp_fast",
    .m_doc = "The OTLP span encoder's cached-shape path in C (optional; otlp_encode falls back to Python).",
    .m_size = -1,
};

PyMODINIT_FUNC
PyInit__otlp_fast(void)
{
    if (PyType_Ready(&SpanWriterType) < 0)
        return NULL;
    PyObject *m = PyModule_Create(&module);
    if (m == NULL)
        return NULL;
    if (PyModule_AddObjectRef(m, "SpanWriter", (PyObject *)&SpanWriterType) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
