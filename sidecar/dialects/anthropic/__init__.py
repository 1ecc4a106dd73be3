"""The Anthropic dialect: everything the sidecar knows about it, in one package.

Map of the package::

    wire         the WireDialect object (endpoints, request reading, upstream paths, credentials,
                 stream shape) and its ProviderAPI objects: what the registry lists
    translation  TRANSLATION: the dialect's functions below, gathered in one ``translate.bundles.Translation``
    request      chat requests <-> the common form (pure), the request-parameter reader
    media        ``image`` and ``document`` blocks <-> the common form's media parts
    fields       the other fields of text, tool_use and tool_result blocks: dropped and listed, or refused
    thinking     its thinking field <-> the common form's ``Thinking`` (``translate.thinking``)
    shape        CHAT_REQUEST: the JSON types of a chat request's fields, named in a 400 (translate.shapes)
    response     chat responses <-> the common form, usage, finish reasons, error body and error event
    searches     the web searches a stream's events show (``web_search`` blocks less failed results), for a cut
    decoder      upstream stream events -> common deltas
    encoder      common deltas -> a caller's stream events
    bodies       what the features read and write in its request bodies (output limit, re-ask, cache)
    features     routing's feature walkers, one per operation (WALKERS)

Nothing here is imported by this file: ``registry`` imports ``wire``, which imports the rest (the
translation modules import only ``translate``'s common form and helpers, and are pure).
"""
