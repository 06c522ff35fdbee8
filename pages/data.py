"""Your data: upload a zip of class folders (or, as the teacher, name a folder on the server), see its classes and
counts, and train a plain/residual twin on it like the built-in sets (its own split, its preprocessing recorded).

Every file goes through explorer.data.uploads (the zip's caps) and the image door (explorer.data.images.load_image).
"""
import streamlit as st

from explorer import i18n
from explorer.access.policy import Action
from explorer.data.config import DataConfig, model_config_for
from explorer.data.datasets import dataset_info, load_dataset, normalize
from explorer.data.images import tensor_to_display
from explorer.data.uploads import MAX_ENTRIES, MAX_ZIP_BYTES, UploadRefused, folder_preview
from explorer.figures.images import sample_strip
from explorer.i18n import N_, _, ngettext
from explorer.nets.config import ModelConfig
from explorer.store.uploaded import keep_upload
from explorer.text import clean, plain_text
from explorer.training import experiments
from explorer.training.recipes import train_config_for
from pages.common import ensure_entry, may, store
from pages.display import plot
from pages.follow import pause_note
from pages.job_actions import start_experiment

ensure_entry("pages/data.py")

DEPTHS = [8, 14, 20, 32]
SOURCE_LABELS = {"zip": N_("An uploaded zip"), "server": N_("A folder on the server")}


@st.cache_data(max_entries=8, show_spinner=False)
def _samples(path: str) -> tuple:
    ds = load_dataset(DataConfig("folder", path=path))
    images, labels = [], []
    for c, name in enumerate(ds.preprocessing.classes):
        idx = (ds.y_train == c).nonzero()
        if len(idx):
            images.append(tensor_to_display(normalize(ds.x_train[idx[0, 0]][None], ds.preprocessing),
                                            ds.preprocessing))
            labels.append(name)
    return images, labels, len(ds.y_train), len(ds.y_test)


def from_zip():
    """The uploaded zip, checked and extracted once per upload; returns its preview or None."""
    up = st.file_uploader(_("A zip with one folder of images per class"), type=["zip"], key="data_zip",
                          help=_("Up to {megabytes} MB and {files} files; PNG, JPEG, WebP, BMP or GIF images, each "
                                 "read safely and resized to 32×32 RGB for training.").format(
                              megabytes=i18n.count(MAX_ZIP_BYTES // 2**20), files=i18n.count(MAX_ENTRIES)))
    if up is None:
        return None
    done = st.session_state.setdefault("data_imports", {})
    if up.file_id not in done:
        try:
            done[up.file_id] = keep_upload(store(), up.getvalue(), owner=st.session_state["owner"])[1]
        except UploadRefused as exc:
            st.error(plain_text(str(exc)))  # it may quote a folder or file name from the zip
            return None
    return done[up.file_id]


def from_server():
    """A folder on the server (the teacher's), previewed without decoding; returns its preview or None."""
    path = st.text_input(_("A folder on the server, with one sub-folder of images per class"), key="data_folder")
    if not path:
        return None
    try:
        return folder_preview(path)
    except UploadRefused as exc:
        st.error(str(exc))  # it quotes the path the teacher just typed, to the teacher alone
        return None


def show_preview(preview: dict) -> None:
    n_classes = len(preview["classes"])
    st.subheader(ngettext("{classes} class, {images} images", "{classes} classes, {images} images", n_classes)
                 .format(classes=i18n.count(n_classes), images=i18n.count(preview["images"])))
    st.dataframe([{_("class"): clean(c), _("images"): n} for c, n in preview["classes"].items()], hide_index=True,
                 key="data_classes")
    if preview.get("skipped"):
        st.caption(ngettext("{n} file(s) were skipped: not images, or images that could not be read.",
                            "{n} file(s) were skipped: not images, or images that could not be read.",
                            preview["skipped"]).format(n=preview["skipped"]))
    try:
        with st.spinner(_("Reading a few images…")):
            images, labels, n_train, n_test = _samples(preview["path"])
    except ValueError as exc:  # a server folder whose names no class may have: one sentence
        st.error(plain_text(str(exc)))
        return
    plot(st, sample_strip(images, labels), key="data_samples", config={"displayModeBar": False})
    st.caption(_("Split like the built-in sets: {n_train} images to train on and {n_test} to test on (a seeded, "
                 "stratified 80/20 split), each resized to 32×32 RGB and normalised by the training images' mean.")
               .format(n_train=n_train, n_test=n_test))


def train_form(preview: dict) -> None:
    left, right = st.columns(2)
    depth = left.selectbox(_("Depth (plain and ResNet)"), DEPTHS, index=0, key="data_depth")
    epochs = right.number_input(_("Epochs"), 1, 100, value=int(train_config_for("folder").epochs), key="data_epochs")
    if st.button(_("Train a twin on these images"), key="data_train", type="primary", disabled=pause_note()):
        data = DataConfig("folder", path=preview["path"])
        cfg = model_config_for(ModelConfig(depth=int(depth)), dataset_info("folder", preview["path"]))
        spec = experiments.twin(cfg, data, train_config_for("folder", epochs=int(epochs)))
        if start_experiment(spec):
            st.switch_page("pages/train.py")


st.title(_("Your data"))
st.caption(_("Train the plain net and its residual twin on your own pictures: a zip with one folder per class."))
source = "zip"
if may(Action.SERVER_FOLDER):
    source = st.radio(_("Images from"), ["zip", "server"], key="data_source", horizontal=True,
                      format_func=lambda v: _(SOURCE_LABELS[v]))
preview = from_zip() if source == "zip" else from_server()
if preview:
    show_preview(preview)
    train_form(preview)
else:
    st.info(_("For example a zip holding cats/ and dogs/, each with a few dozen photos."))
