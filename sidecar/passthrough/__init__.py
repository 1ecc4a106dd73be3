"""The passthrough: paths the sidecar does not interpret, forwarded as sent to the provider the policy's
``passthrough`` block names for the app's dialect (docs/api.md, "Passthrough"; off by default).

Map (policy load at the top, one request below):

- ``spec``      the ``passthrough:`` policy block (pydantic: prefixes under the dialect's API roots,
                ``max_body_bytes``)
- ``table``     ``compile_passthrough``: providers resolved, each prefix's ``PassRoute`` (its provider's URL
                worked out once); ``PassthroughTable.find``, the one lookup a request no route serves pays
- ``headers``   which headers cross, each way (the app's key replaced, hop-by-hop ones dropped, the
                body's description kept: the body crosses as sent)
- ``body``      the app's body streamed to the provider, counted against ``max_body_bytes``

The request itself (the call, the answer relayed, its access line and telemetry) is
``server.forward``'s; the call goes through ``upstream.UpstreamClient.forward``.
"""
