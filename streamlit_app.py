"""ResNet Explorer: `streamlit run streamlit_app.py`. Entry: session defaults, navigation, shared sidebar."""
import os

# Before torch loads: spinning OpenMP threads are many times slower on shared cores (docs/benchmarks.md).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import streamlit as st  # noqa: E402

from explorer.i18n import _
from explorer.launch import preload_in_background
from pages.a11y import a11y_css
from pages.class_panel import join_panel
from pages.class_screen_controls import screen_session
from pages.common import init_session, store_notice, sync_query, teacher_login, write_owner_cookie
from pages.display import narrow_screen_css, projector_toggle, show_url_problems
from pages.follow import follow_class
from pages.lang import choose_language, language_picker, page_language
from pages.lti_entry import redeem_launch
from pages.signin import invite_panel, student_wall

APP_NAME = "ResNet Explorer"  # not for translation
st.set_page_config(page_title=APP_NAME, page_icon=":material/account_tree:", layout="wide",
                   initial_sidebar_state="collapsed")
a11y_css()  # captions at 4.5:1, a visible focus ring, no focus on the collapsed sidebar (issue 23)
init_session()
choose_language()  # before any sentence: the reader's, the class's or the browser's language (pages.lang)
if screen_session():  # ?screen=CODE: the projector's view alone (the teacher's; anyone else reads one sentence)
    choose_language()  # the class screen reads in its class's language
    st.set_page_config(page_title=_("Class screen · ResNet Explorer"))
    st.navigation([st.Page("pages/screen.py", title=_("Class screen"), default=True)], position="hidden").run()
    st.stop()

PAGES = [
    st.Page("pages/home.py", title=_("Home"), icon=":material/home:", default=True),
    st.Page("pages/build.py", title=_("Build"), icon=":material/construction:"),
    st.Page("pages/train.py", title=_("Train"), icon=":material/monitoring:"),
    st.Page("pages/runs.py", title=_("Runs"), icon=":material/history:"),
    st.Page("pages/explain.py", title=_("Explain"), icon=":material/image_search:"),
    st.Page("pages/inspect.py", title=_("Inspect"), icon=":material/biotech:"),
    st.Page("pages/why.py", title=_("Why it works"), icon=":material/lightbulb:"),
    st.Page("pages/data.py", title=_("Your data"), icon=":material/upload_file:"),
    st.Page("pages/lessons.py", title=_("Lessons"), icon=":material/school:"),
    st.Page("pages/classroom.py", title=_("Class"), icon=":material/groups:"),
]
# On top: readable when projected, and (with client.showSidebarNavigation = false) no flash of the
# raw pages/ folder listing before the first run.
page = st.navigation(PAGES, position="top")
# Each page's own title in the tab (WCAG 2.4.2).
st.set_page_config(page_title=_("{page} · ResNet Explorer").format(page=page.title))
store_notice()  # before anything below asks the store (a class's roles, a launch, the sidebar): one sentence, stop
deep_link = st.session_state.pop("_deep_link", None)  # a page opened first on a fresh server (common.ensure_entry)
deep_link = redeem_launch() or deep_link  # a launch from an LMS (/?lti=...), perhaps to a lesson (pages.lti_entry)
if deep_link and deep_link != "pages/home.py":
    st.switch_page(deep_link, query_params=st.query_params.to_dict())
if "lti" not in st.session_state:  # a session an LMS launch signed in (pages.lti_entry) is past the wall
    student_wall()  # EXPLORER_STUDENT_LOGIN=required: nothing but the sign-in until signed in

with st.sidebar:
    st.caption(_("Plain vs residual networks, after He et al. 2015 and 2016."))
    language_picker(st.sidebar)
    page_language(st.sidebar)  # <html lang> follows the page (WCAG 3.1.1); in the sidebar, no gap on the page
    teacher_login(st.sidebar)
    projector_toggle(st.sidebar)
show_url_problems()
narrow_screen_css()
write_owner_cookie()
join_panel()
invite_panel()
follow_class(page.url_path)  # a class member's pages follow the teacher's lesson and pause (nothing for others)
page.run()
sync_query()
preload_in_background()  # after the page is drawn: what the other pages import (torch), once per server
