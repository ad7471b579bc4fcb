"""Encodings: one module each, registered in the :data:`fastscore_sdk.codec.encodings` registry.

``null`` (raw bytes), ``utf-8`` (str), ``json``, ``csv``, ``msgpack``, ``avro-binary`` and ``soap-rpc``
(parsed and registered, not supported yet).
"""
