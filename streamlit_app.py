"""ResNet Explorer: `streamlit run streamlit_app.py`. Entry: session defaults, navigation, shared sidebar."""
import os

# Before torch loads: spinning OpenMP threads are many times slower on shared cores (docs/benchmarks.md).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import streamlit as st  # noqa: E402

from pages.common import init_session, sync_query, teacher_login, write_owner_cookie

st.set_page_config(page_title="ResNet Explorer", page_icon="🧱", layout="wide")
init_session()

PAGES = [
    st.Page("pages/home.py", title="Home", icon="🏠", default=True),
    st.Page("pages/build.py", title="Build", icon="🧱"),
    st.Page("pages/train.py", title="Train", icon="📈"),
    st.Page("pages/runs.py", title="Runs", icon="🗂️"),
    st.Page("pages/explain.py", title="Explain", icon="🔍"),
    st.Page("pages/inspect.py", title="Inspect", icon="🔬"),
]
page = st.navigation(PAGES)

with st.sidebar:
    st.caption("Plain vs residual networks, after He et al. 2015 and 2016.")
    teacher_login(st.sidebar)
for problem in st.session_state.pop("url_problems", []):
    st.warning(problem)
write_owner_cookie()
page.run()
sync_query()
