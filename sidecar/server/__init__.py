"""The application: aiohttp.web serves it through ``listener`` (caps, strict input), its router hands
each request (a ``web.Request``; the answer a ``web.Response`` or ``web.StreamResponse``) to a handler.

Request path (``pipeline``), built once at startup; each stage may answer early:

    listener.guard (target and version checks, the connection marked busy)
      -> handler (request id, trace, access line, error shaping)
      -> read_stage     read and parse the body in the caller's dialect: 400 / 413 on bad input
      -> route_request  the policy picks a route: 404 no route, deny
      -> execute        the fallback loop (``fallback``): one ``attempt`` per target try,
                        streams relayed by ``stream`` with a commit point

Modules: ``endpoints`` (what each path means), ``exchange`` (the per-request record), ``errors``,
``pipeline``, ``fallback``, ``attempt``, ``stream``, ``admin`` (health, status, models, metrics),
``listener`` (aiohttp's server with connection and head caps, the receive deadline, refusals),
``app`` (the route table, wiring, lifecycle, graceful shutdown).
"""
