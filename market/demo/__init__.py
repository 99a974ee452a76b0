"""Demo data: realistic organisations and listings for a first look at the market."""

from market.demo.loader import load_demo

__all__ = ["load_demo"]
