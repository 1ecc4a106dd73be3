"""llm-sidecar: an LLM traffic proxy that runs next to each app pod.

Map of the package (each module holds one concept):

- ``cli``            the ``llm-sidecar`` command: run, validate, explain, fake-provider
- ``settings``       process settings from flags and ``SIDECAR_*`` env vars
- ``dialects``       the three wire dialects (OpenAI, Anthropic, Gemini): endpoints and error bodies
- ``policy/``        the policy file: schema (pydantic), compilation to an immutable ``Policy``,
                     loading with path-qualified errors, hot reload
- ``http1/``         HTTP/1.1 on asyncio: the listener the app calls in on
- ``server/``        the application: endpoints, the request pipeline, streaming relay
- ``upstream/``      the client side: URLs and headers per provider, aiohttp's ClientSession tuned and
                     bounded (timeouts, body and decompression caps), proxies, per-provider TLS
- ``resilience/``    outcome classification, retries, circuit breakers, retry budgets, bulkheads
- ``translate/``     pure translation between dialects (requests, responses, stream events)
- ``telemetry/``     structured logs, OpenTelemetry traces, metrics
- ``fake_provider/`` a fake OpenAI/Anthropic/Gemini server with fault injection (tests and demos)
- ``extensions``     the optional C twins (``*.c``) of two hot Python paths, and ``SIDECAR_NO_EXTENSIONS``
"""

__version__ = "0.1.0"
