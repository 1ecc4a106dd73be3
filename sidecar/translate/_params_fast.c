/* sidecar.translate._params_fast: the generation parameters of an OpenAI or Anthropic request body, in C
 * (optional; see usage.py, whose pure-Python _chat_params gives the same result: the tests hold the two
 * together).
 *
 * chat_params(params_type, body, openai) -> params_type(...) | None
 *
 * `body` is the decoded JSON object (a dict), `openai` whether the body is OpenAI's (else Anthropic's).
 * Each field is taken only when it has exactly its type: counts are ints (never a bool), temperature,
 * top_p and the penalties ints or floats made float (a negative zero made 0.0), the stream flag a
 * bool, the stops a string or the strings of a list. None means "let Python decide": a value this
 * code does not convert the same way for sure (a number too large for a float) or an error.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <string.h>

/* The body's keys this reads. */
enum {
    K_MODEL, K_MAX_COMPLETION_TOKENS, K_MAX_TOKENS, K_TEMPERATURE, K_TOP_P, K_TOP_K, K_STOP,
    K_STOP_SEQUENCES, K_STREAM, K_FREQUENCY_PENALTY, K_PRESENCE_PENALTY, K_SEED, K_N, K_COUNT
};
static const char *const key_names[K_COUNT] = {
    "model", "max_completion_tokens", "max_tokens", "temperature", "top_p", "top_k", "stop",
    "stop_sequences", "stream", "frequency_penalty", "presence_penalty", "seed", "n",
};

/* Which of key_names `key` is (K_COUNT if none): the body's keys are read in one pass over the body,
 * not looked up one by one (a body has a few of them; most lookups would miss). */
static int
key_index(PyObject *key)
{
    if (!PyUnicode_CheckExact(key) || !PyUnicode_IS_COMPACT_ASCII(key))
        return K_COUNT;
    Py_ssize_t size = PyUnicode_GET_LENGTH(key);
    const char *text = (const char *)PyUnicode_DATA(key);
    for (int i = 0; i < K_COUNT; i++)
        if ((size_t)size == strlen(key_names[i]) && memcmp(text, key_names[i], (size_t)size) == 0)
            return i;
    return K_COUNT;
}

/* An int field: the value (new reference) or None. */
static PyObject *
count_of(PyObject *value)
{
    return Py_NewRef(value != NULL && PyLong_CheckExact(value) ? value : Py_None);
}

/* A number field made float (new reference), None if it is not one; NULL on error (Python decides). */
static PyObject *
number_of(PyObject *value)
{
    if (value == NULL || !(PyFloat_CheckExact(value) || PyLong_CheckExact(value)))
        return Py_NewRef(Py_None);
    double number = PyFloat_AsDouble(value);
    if (number == -1.0 && PyErr_Occurred())
        return NULL;
    return PyFloat_FromDouble(number + 0.0);  /* -0.0 + 0.0 is 0.0 */
}

/* The stop sequences (new reference): () if absent or of another kind. */
static PyObject *
stops_of(PyObject *value)
{
    if (value == NULL || value == Py_None)
        return PyTuple_New(0);
    if (PyUnicode_Check(value))
        return PyTuple_Pack(1, value);
    if (!PyList_Check(value))
        return PyTuple_New(0);
    Py_ssize_t size = PyList_GET_SIZE(value), kept = 0;
    PyObject *stops = PyTuple_New(size);
    if (stops == NULL)
        return NULL;
    for (Py_ssize_t i = 0; i < size; i++) {
        PyObject *item = PyList_GET_ITEM(value, i);
        if (PyUnicode_Check(item))
            PyTuple_SET_ITEM(stops, kept++, Py_NewRef(item));
    }
    if (kept != size && _PyTuple_Resize(&stops, kept) < 0)
        return NULL;
    return stops;
}

static PyObject *
chat_params(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 3) {
        PyErr_SetString(PyExc_TypeError, "chat_params(params_type, body, openai)");
        return NULL;
    }
    PyObject *params_type = args[0], *body = args[1];
    if (!PyType_Check(params_type) || !PyType_IsSubtype((PyTypeObject *)params_type, &PyTuple_Type)) {
        PyErr_SetString(PyExc_TypeError, "params_type must be a named tuple");
        return NULL;
    }
    if (!PyDict_CheckExact(body))
        Py_RETURN_NONE;
    int openai = PyObject_IsTrue(args[2]);
    if (openai < 0)
        return NULL;
    PyObject *raw[K_COUNT + 1] = {NULL};  /* the values of key_names, NULL if absent; [K_COUNT]: others */
    PyObject *key, *value;
    Py_ssize_t position = 0;
    while (PyDict_Next(body, &position, &key, &value)) {
        if (!PyUnicode_CheckExact(key))
            Py_RETURN_NONE;  /* a key that might equal one of ours: Python's lookups decide */
        raw[key_index(key)] = value;
    }
    if (openai)
        raw[K_STOP_SEQUENCES] = NULL;
    else  /* Anthropic has no penalties, seed or choice count, and names its stops stop_sequences */
        raw[K_MAX_COMPLETION_TOKENS] = raw[K_STOP] = raw[K_FREQUENCY_PENALTY] = raw[K_PRESENCE_PENALTY] =
            raw[K_SEED] = raw[K_N] = NULL;
    PyObject *fields[11] = {NULL};
    PyObject *model = raw[K_MODEL];
    fields[0] = Py_NewRef(model != NULL && PyUnicode_CheckExact(model) ? model : Py_None);
    PyObject *max_tokens = raw[K_MAX_COMPLETION_TOKENS];  /* OpenAI's newer name wins */
    if (max_tokens == NULL || !PyLong_CheckExact(max_tokens))
        max_tokens = raw[K_MAX_TOKENS];
    fields[1] = count_of(max_tokens);
    fields[2] = number_of(raw[K_TEMPERATURE]);
    fields[3] = number_of(raw[K_TOP_P]);
    fields[4] = count_of(raw[K_TOP_K]);
    fields[5] = stops_of(openai ? raw[K_STOP] : raw[K_STOP_SEQUENCES]);
    fields[6] = number_of(raw[K_FREQUENCY_PENALTY]);
    fields[7] = number_of(raw[K_PRESENCE_PENALTY]);
    fields[8] = count_of(raw[K_SEED]);
    fields[9] = count_of(raw[K_N]);
    PyObject *stream = raw[K_STREAM];
    fields[10] = Py_NewRef(stream != NULL && PyBool_Check(stream) ? stream : Py_None);
    for (int i = 0; i < 11; i++) {
        if (fields[i] == NULL) {
            for (int j = 0; j < 11; j++)
                Py_XDECREF(fields[j]);
            goto python;
        }
    }
    /* As tuple.__new__(params_type, fields) makes it: allocated by the type, items set in place. */
    PyObject *params = ((PyTypeObject *)params_type)->tp_alloc((PyTypeObject *)params_type, 11);
    if (params == NULL) {
        for (int i = 0; i < 11; i++)
            Py_DECREF(fields[i]);
        goto python;
    }
    for (int i = 0; i < 11; i++)
        PyTuple_SET_ITEM(params, i, fields[i]);
    return params;
python:
    PyErr_Clear();
    Py_RETURN_NONE;
}

static PyMethodDef methods[] = {
    {"chat_params", (PyCFunction)(void (*)(void))chat_params, METH_FASTCALL,
     PyDoc_STR("chat_params(params_type, body, openai) -> params_type | None: the generation parameters of an"
               " OpenAI (openai true) or Anthropic request body; None: let the Python code decide.")},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT,
    .m_name = "sidecar.translate._params_fast",
    .m_doc = "Request parameters of OpenAI and Anthropic bodies in C (optional; usage.py has the same in Python).",
    .m_size = 0,
    .m_methods = methods,
};

PyMODINIT_FUNC
PyInit__params_fast(void)
{
    return PyModuleDef_Init(&module_def);
}
