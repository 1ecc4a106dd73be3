"""llm-sidecar: an LLM traffic proxy that runs next to each app pod.

Map of the package (each module holds one concept):

- ``cli``            the ``llm-sidecar`` command: its parser and run; validate, explain, diff, schema, router,
                     fake-provider, demo
- ``policy_commands`` the commands that read policy files: validate, schema, explain, diff
- ``demo_command``   ``llm-sidecar demo``: fake providers and the sidecar on ``demo/policy.yaml``
- ``exit_codes``     the command's exit codes
- ``entry``          its entry point: the command imported and run inside the handler of Ctrl-C
- ``settings``       process settings from flags and ``SIDECAR_*`` env vars
- ``credentials``    provider keys: from the environment, a rotated file, or the app's request
- ``redis_credentials`` the Redis password (a rotated Secret file or a variable), read per connection
- ``dialects/``      one package per wire dialect (OpenAI, Anthropic, Gemini: its object, with endpoints,
                     request reading, error bodies, stream shape, and its whole translation) holding its
                     provider kinds (dialect, URL, key header); the registry, the only list of them
- ``policy/``        the policy file: schema (pydantic), compilation to an immutable ``Policy``,
                     loading with path-qualified errors, hot reload
- ``server/``        the application on aiohttp.web: the listener and its caps, endpoints, the request
                     pipeline, streaming relay
- ``upstream/``      the client side: the URL and headers of a call, aiohttp's ClientSession tuned and
                     bounded (timeouts, body and decompression caps), proxies, per-provider TLS
- ``resilience/``    outcome classification, retries, circuit breakers, retry budgets, bulkheads
- ``translate/``     the common form every dialect translates through, the shared helpers, the facade
- ``telemetry/``     structured logs (structlog), traces (OpenTelemetry SDK), metrics (prometheus_client,
                     OTLP through the OpenTelemetry SDK)
- ``routing/``       routing by task and cost: request features, task classes and complexity, the learned
                     router (``router train/eval``), cheapest capable selection, weighted splits, caps
- ``cache/``         the answer cache: key, memory and Redis stores (aiocache), single flight, stream replay
- ``budgets/``       spend and rate limits: admission, reservation and settlement, local and Redis ledgers
- ``ensemble/``      ensembles: normalizers, majority with early quorum, confidence, judge
- ``gates/``         quality gates: JSON Schema, non-empty, pattern, refusal; escalation
- ``shadow/``        shadow evaluation: sampled candidate calls compared with the served answer
- ``passthrough/``   paths the sidecar does not interpret, forwarded as sent: the policy block, its
                     compiled table, the headers and the streamed body (the request: ``server.forward``)
- ``sse``            server-sent events: the incremental parser and the encoder
- ``lazy``           package exports loaded on first use (feature packages)
- ``fd_limit``       the open-files limit raised to its hard limit, the connection limits fitted to it
- ``deadline``       a deadline on one wait of the running task, every pending one on one timer (the
                     upstream call's first byte, a cache store's operation)
- ``held_bytes``     one account of the bytes bodies hold, all requests together, under a ceiling sized
                     from the container's memory limit
- ``ports_file``     the ports a process bound (port 0: the kernel's choice), written for whoever started it
- ``answers``        the text of an answer in any dialect (for votes, gates and shadows)
- ``header_text``    names in response headers: visible ASCII as it is, anything else percent-encoded
- ``cost``           prices and the cost of a call
- ``explain``        ``llm-sidecar explain``: what the policy and each feature do with one request
- ``diff/``          ``llm-sidecar diff``: two policies compared section by section, an access log replayed
- ``request_facts``  one description of a request (dialect, operation, model, stream, app, headers, body;
                     routing features on demand), for the server, ``explain`` and ``diff --replay``
- ``fake_provider/`` a fake OpenAI/Anthropic/Gemini server with fault injection (tests and demos)
"""

__version__ = "0.1.0"
