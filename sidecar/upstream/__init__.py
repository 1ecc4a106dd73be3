"""The client side of the sidecar: where an attempt goes, what it carries, and how it travels.

- ``urls``      the upstream URL per provider kind, dialect and operation (``upstream_url``)
- ``headers``   which headers cross, each way: hop-by-hop ones never (``UpstreamHeaders``, ``RelayHeaders``)
- ``client``    ``UpstreamClient``: aiohttp's ``ClientSession``, one per process, tuned (limits,
                keep-alive, DNS cache, happy eyeballs), with the sidecar's timeouts per call
                (``post``; ``forward``: a passthrough's call, any method, its bodies streamed);
                ``request_sent``: whether a failed call had been written to a connection;
                ``waited_for_a_connection``: whether it was still waiting for a free one
- ``resolver``  ``BoundedResolver``: each name lookup bounded by the attempt's ``connect_s``, a failed
                one remembered for 5 s
- ``response``  ``UpstreamResponse``: the head checked, the body bounded (size, decompression, loop time)
- ``proxy``     which proxy carries a provider's calls: its ``proxy`` setting or HTTPS_PROXY/HTTP_PROXY/NO_PROXY
- ``tls``       per-provider CA bundles and client certificates, re-read when rotated

No HTTP is parsed here: aiohttp (llhttp) reads the upstream's bytes; what can go wrong arrives as
aiohttp's exception types, ``MalformedResponse`` or ``TLSConfigError``, which ``resilience.classify``
maps to outcomes.
"""

from .client import UpstreamClient, request_sent, waited_for_a_connection
from .headers import ANSWER_DROP, RESPONSE_DROP, STREAM_DROP, RelayHeaders, UpstreamHeaders
from .proxy import EnvProxies
from .response import MalformedResponse, UpstreamResponse
from .tls import TLSConfigError
from .urls import NoEquivalentOperation, upstream_url

__all__ = [
    "ANSWER_DROP",
    "RESPONSE_DROP",
    "STREAM_DROP",
    "EnvProxies",
    "MalformedResponse",
    "NoEquivalentOperation",
    "RelayHeaders",
    "TLSConfigError",
    "UpstreamClient",
    "UpstreamHeaders",
    "UpstreamResponse",
    "request_sent",
    "upstream_url",
    "waited_for_a_connection",
]
