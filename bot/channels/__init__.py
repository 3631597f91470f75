"""The channels staff reach policybot through: one package per edge (``slack``, ``teams``, ``web``), each
translating its native requests to ``Message`` and the core's ``Reply`` back. Edges never import each other or
the composition root; what they share (the running ``Services`` and the app keys) lives beside them here."""
