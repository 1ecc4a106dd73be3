"""The application: aiohttp's low-level ``web.Server`` serves it through ``listener`` (caps, strict
input), whose path table (``routes.Routes``) hands each request (a ``web.BaseRequest``; the answer a
``web.Response`` or ``web.StreamResponse``) to the handler of its method and path.

Request path (``pipeline``), built once at startup; each stage may answer early:

    routes.Routes (target and version checks, the connection marked busy, the path's handler)
      -> handler (``handler.proxy``: request id, trace, the sidecar's headers on any answer, errors in
         the caller's dialect, the access line)
      -> read_stage     read and parse the body, the request's facts (``request_facts``): 400 / 413
      -> route_request  the policy picks a route: 404 no route, deny (``routing.stage.routing_stage`` in
                        its place for a policy that routes by task and cost: the route, then routing)
      -> (feature stages: they register ``hooks.StreamTap`` / ``hooks.ChainHook`` on the exchange)
      -> Executor       the route's plan (``policy.plans``) over the fallback loop (``fallback``)

Modules: ``exchange`` (the per-request record), ``hooks`` (the seams stages plug into), ``errors``,
``pipeline``, ``fallback`` (the terminal stage and the walk of a chain), ``target_tries`` (one target's
tries), ``hedge`` (the hedged race), ``calls`` (one call: permit, slot, span, record), ``attempt``
(the request for one target, the call, the answer judged; ``prepared``: that request's record;
``timeout_words``: which limit a timed-out attempt ran into, in words), ``billed`` (what a call the provider may
bill but whose answer the caller did not get costs the request: accepted and then failed, or cut in
flight; and what a stream cut after its commit point used, its output estimated from the bytes sent),
``key_redaction`` (the provider key taken out of upstream errors), ``stream`` (the relay, its
commit point and taps; ``stream_read``: an upstream event read whole; ``stream_totals``: the last
usage of a stream whose events carry the totals so far, read at its end; ``stream_error``: the error event
that ends a failed stream; ``stream_ends``: a stream that did not end cleanly, failed or cut, what
its provider is charged and what the caller gets; ``stream_answer``: a stream answer's head, a whole
stream sent at once, a streamed answer held back), ``last_resort``,
``answer_headers`` (the ``x-sidecar-*`` headers of every answer), ``bill`` (what a request cost: the
access line's ``cost_usd`` and a whole answer's ``x-sidecar-cost``), ``access`` (the access line),
``targets`` (per-target health state), ``admin`` (health, status, models, metrics), ``listener``
(aiohttp's server with connection and head caps, the receive deadline, refusals; ``listening_socket``:
its socket still open and accepting; ``every_address``: host ``::`` as one socket for IPv6 and IPv4;
``request_kinds``: the requests it makes, ``100 Continue`` sent as a
handler reads the body), ``routes`` (the path
table: ``Expect: 100-continue``, target and version checks, the path's handler), ``handler`` (the
handlers of a proxied request and of an unknown path), ``refusals`` (the proxy port's own 404, 405 and
``Expect`` 413, made before any handler: the sidecar's headers, the access line, the metrics),
``forward`` (a request no route serves that the policy's ``passthrough`` forwards as sent: the call, the
answer streamed back, its access line;
``forward_call``: its record, for its headers, line and CLIENT span),
``drain`` (the answer of a request the drain timeout cut), ``app`` (the route table and wiring: the app
built, opened, reloaded, closed), ``lifecycle`` (the process served: its listeners, the health port's,
until SIGTERM, then the graceful shutdown), ``state`` (everything one running sidecar holds). The first
byte's deadline is the package's ``deadline``.

The feature stages, folded in only for a policy that uses them (``assembly``): ``cache_stage`` (the response
cache; ``response_caches`` keeps its store across reloads, ``replay`` sends a cached answer as a stream,
``store_tap`` assembles a streamed miss into its entry), ``budget`` (admission and settlement;
``budget_hook``: the budget's hook on the walk, a target reserved before its call; ``budget_verdict``: what a
decision does to the request, its headers, the deny's 429, the downgraded chain; ``budget_use``: what a
request used when it did not end with the provider's usage), ``gating`` (quality gates), ``shadowing`` (shadow
calls), ``ensemble`` (an ensemble route's plan; ``ensemble_members``: its members' walks and what the vote
reads of them); ``children`` runs the calls a request makes besides its chain (ensemble members, judges,
shadows); ``one_answer`` refuses several choices where one answer is judged (ensembles, gates).
"""
