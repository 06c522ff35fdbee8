"""Inspect: placeholder until the Inspect views land (issue 6)."""
import streamlit as st

st.title("Inspect")
st.info("The Inspect views (gradient flow, layer responses, loss landscape, block ablation) are being built.")
