"""ResNet Explorer's library: build plain and residual nets, train them in lockstep, look inside.

Nothing here imports streamlit (tests/test_layering.py checks); the app in pages/ is a thin face.
"""
__version__ = "0.1.0"
