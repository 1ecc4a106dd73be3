"""The application the HTTP listener (``http1.server``) hands each request to.

Request path (``pipeline``), built once at startup; each stage may answer early:

    handler (request id, trace, access line, error shaping)
      -> read_request   parse the body in the caller's dialect: 400 / 413 on bad input
      -> route_request  the policy picks a route: 404 no route, deny
      -> execute        the fallback loop (``fallback``): one ``attempt`` per target try,
                        streams relayed by ``stream`` with a commit point

Modules: ``endpoints`` (what each path means), ``exchange`` (the per-request record), ``errors``,
``pipeline``, ``fallback``, ``attempt``, ``stream``, ``admin`` (health, status, models, metrics),
``routes`` (method and path to handler), ``app`` (wiring, lifecycle, graceful shutdown).
"""
