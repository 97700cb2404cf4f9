"""The application layer: one module per use-case family, called by every door (chat, API, inbox).

A use case takes plain values, applies the domain's rules, owns its unit of work
(``services.unit_of_work``) and returns a typed result or a typed problem, never a sentence.
"""
