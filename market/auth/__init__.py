"""Who is asking: the actor (`actor.py`) and the FastAPI dependencies that find it (`dependencies.py`).

Domains and endpoints depend on this package; `market.core` does not.
"""
