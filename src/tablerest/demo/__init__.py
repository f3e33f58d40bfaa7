"""The bundled demo database: a small library and a school, built once, deterministically.

``tablerest serve`` with no argument builds it (on first use) and serves it, so a newcomer sees a
working API with data in one command.
"""

from .build import DEMO_HIDDEN, demo_path, ensure_demo

__all__ = ["DEMO_HIDDEN", "demo_path", "ensure_demo"]
