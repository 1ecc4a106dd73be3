"""The Gemini dialect: everything the sidecar knows about it, in one package.

Map of the package::

    wire         the WireDialect object (endpoints, request reading, upstream paths, credentials,
                 stream shape) and its ProviderAPI objects: what the registry lists
    translation  TRANSLATION: the dialect's functions below, gathered in one ``translate.bundles.Translation``
    request      chat requests <-> the common form (pure): one step per top-level field, the
                 request-parameter reader
    contents     ``contents`` <-> the common form's turns (tool-call ids, function responses, signatures)
    fields       the other fields of contents and parts: dropped and listed, or refused (``SKIP_SIGNATURE``)
    generation   ``generationConfig`` <-> settings, response format (``GEMINI_MAX_STOPS``)
    thinking     its thinking field <-> the common form's ``Thinking`` (``translate.thinking``)
    declarations ``tools[].functionDeclarations`` -> the common form's tools (a result schema refused)
    files        which ``fileData`` URIs another provider can download (not Files API or gs:// ones)
    keys         ``camel``: the camelCase spelling of a snake_case field (Gemini reads both)
    shape        CHAT_REQUEST: the JSON types of a chat request's fields, named in a 400 (translate.shapes)
    response     chat responses <-> the common form, usage, finish reasons, error body and error event
    citations    a candidate's ``citationMetadata`` <-> the common form's citations
    logprobs     log-probabilities: ``responseLogprobs``/``logprobs``, the answer's ``logprobsResult``
    searches     the web searches a stream's fragments show (grounding queries), for a relay that reads one usage
    decoder      upstream stream events -> common deltas
    encoder      common deltas -> a caller's stream events
    bodies       what the features read and write in its request bodies (output limit, re-ask, cache)
    features     routing's feature walkers, one per operation (WALKERS)
    the pairwise conversions with other dialects:
    embeddings    OpenAI /v1/embeddings <-> Gemini embedContent / batchEmbedContents
    count_tokens  Anthropic count_tokens <-> Gemini countTokens

Nothing here is imported by this file: ``registry`` imports ``wire``, which imports the rest (the
translation modules import only ``translate``'s common form and helpers, and are pure).
"""
