"""Envelopes (framing): one module each, registered in the :data:`fastscore_sdk.codec.envelopes` registry.

``delimited``, ``fixed``, ``ocf-block``, ``delimited-csv``, and ``none`` for a descriptor's
``"Envelope": null`` (one record per message, or a self-delimiting encoding on a byte stream).
"""
