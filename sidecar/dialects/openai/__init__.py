"""The OpenAI dialect: everything the sidecar knows about it, in one package.

Map of the package::

    wire         the WireDialect object (endpoints, request reading, upstream paths, credentials,
                 stream shape) and its ProviderAPI objects: what the registry lists
    translation  TRANSLATION: the dialect's functions below, gathered in one ``translate.bundles.Translation``
    request      chat requests <-> the common form (pure): top-level settings and features, the
                 request-parameter reader
    messages     ``messages`` <-> the common form's system prompts and turns (pure; also the answer's message)
    fields       the other fields of messages, tool calls and content parts: dropped and listed, or refused
    shape        CHAT_REQUEST: the JSON types of a chat request's fields, named in a 400 (translate.shapes)
    response     chat responses <-> the common form, usage, finish reasons, error body and error event
    citations    ``message.annotations`` (url citations) <-> the common form's citations
    logprobs     log-probabilities: the request's ``logprobs``/``top_logprobs``, the answer's <-> the common form
    searches     the web searches a stream's events show (chat citations, Responses ``web_search_call`` items)
    decoder      upstream stream events -> common deltas
    encoder      common deltas -> a caller's stream events
    responses_request  Responses API requests -> the common form (pure): top-level settings and features,
                 what only OpenAI keeps refused by name; served by another dialect's target as its chat
    responses_items    the Responses API's ``input`` items -> the common form's system prompts and turns
    responses_answer   a common-form answer -> a Responses ``response`` object (output items, usage, status)
    responses_encoder  common deltas -> a Responses caller's stream events (sequence numbers, items)
    responses_shape    RESPONSES_REQUEST: the JSON types of a Responses request's fields, named in a 400
    bodies       what the features read and write in its request bodies (output limit, re-ask, cache)
    features     routing's feature walkers, one per operation (WALKERS)
(the azure-openai provider kind is in wire too)

Nothing here is imported by this file: ``registry`` imports ``wire``, which imports the rest (the
translation modules import only ``translate``'s common form and helpers, and are pure).
"""
