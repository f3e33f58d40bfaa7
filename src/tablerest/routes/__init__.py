"""The HTTP routes: negotiate, decode the request into an intent (:mod:`tablerest.decode`),
call the operations layer (:mod:`tablerest.operations`) with the caller's view, render the
answer.

- ``common``: what a resource's routes share (settings, the caller, answering a write).
- ``reads`` / ``writes``: the routes of one resource; ``endpoint`` puts them together.
- ``respond``: responses, ETags, links, exports.
- ``batch``: ``POST {prefix}/batch``, each operation through the operations layer.
"""
