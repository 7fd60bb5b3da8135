"""Routers: gRPC on 8033 and rest-proxy-style REST on 8008, both through one DataPlane."""

from .dataplane import DataPlane

__all__ = ["DataPlane"]
