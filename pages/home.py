"""Home: the degradation problem on one screen, and one button that reproduces Figure 6 in miniature."""
import streamlit as st

from explorer.i18n import _, decimal
from explorer.nets.describe import HOME_UNIT_DESCRIPTION
from pages.class_panel import class_caption
from pages.common import ensure_entry
from pages.display import diagram
from pages.follow import pause_note
from pages.job_actions import figure6_spec, start_experiment
from pages.signin import home_link

ensure_entry("pages/home.py")

UNIT_DOT = (
    'digraph { rankdir=TB; node [shape=box, style="rounded,filled", '  # not for translation
    'fillcolor="#eef3fb", fontname=Helvetica];'
    ' x [label="x", shape=plaintext, style=""]; c1 [label="3×3 conv, BN, ReLU"]; c2 [label="3×3 conv, BN"];'
    ' add [label="+", shape=circle, fillcolor="#fde9c8"]; out [label="ReLU"];'
    ' x -> c1 -> c2 -> add -> out; x -> add [label="IDENTITY_LABEL", style=dashed, color="#c0392b", '
    'fontcolor="#c0392b"]; }')

st.title("ResNet Explorer")  # not for translation
class_caption()
st.markdown(_(
    "**Deeper should be better — but a deeper *plain* network often trains worse.** "
    "He et al. (2015) stacked more 3×3 conv layers on CIFAR-10 and saw the 56-layer plain net end with a "
    "*higher training error* than the 20-layer one. That is not overfitting (the training error itself is worse) "
    "and not vanishing gradients: with BatchNorm they checked that neither the forward signals nor the gradients "
    "vanish (§4.1). The optimiser just fails to find a solution that the deeper net could express, such as "
    "copying the shallow net and making the extra layers identities; they conjecture that deep plain nets "
    "converge exponentially slowly. They called it the **degradation problem**."
))
with st.container(border=True):
    paused = pause_note()
    c1, c2 = st.columns([1, 3], vertical_alignment="center")
    go = c1.button(_("Reproduce Figure 6"), key="home_figure6", type="primary", width="stretch", disabled=paused)
    c2.markdown(_(
        "One click trains **plain-20, ResNet-20, plain-56 and ResNet-56** side by side on the built-in handwritten "
        "digits (offline, about a minute on a laptop CPU), every net on the same batches. Each plain net starts "
        "from its ResNet twin's weights, except that the ResNets start their branches at zero (zero-init, Goyal et "
        "al. 2017: each unit starts as its shortcut) and the plain nets cannot: plain against plain and ResNet "
        "against ResNet compare nets started the same way. Zero-init is not what fixes the degradation: without it "
        "ResNet-56 still ends within a few per cent of zero training error while plain-56 barely trains; with it "
        "ResNet-56 ends lower still, and the ResNets start a little slower (seed 0: ResNet-56 ends at 2.3 % "
        "without it and 0.3 % with it, plain-56 at 65 %). Watch "
        "the deeper plain net's training error stay far above the shallow one's while the deeper ResNet keeps up. "
        "Mind the scale: on these small digits, in so short a run, plain-56 barely trains at all; in the paper "
        "(CIFAR-10, about 164 epochs) it is only mildly worse than plain-20 (test error 10.08 vs 15.39 % and 9.5 vs"
        " {error} in two public reproductions, by techxzen and a-martyn), and only plain-110 fails that badly."
    ).format(error=decimal(12.76, 2) + " %"))  # a placeholder: "% in" would read as a %-format to the catalogue tools
if go and start_experiment(figure6_spec()):
    st.switch_page("pages/train.py")
left, right = st.columns([3, 2])
with left:
    st.markdown(_(
        "**The fix: learn the residual.** Instead of asking a few layers to fit a mapping H(x) directly, let them "
        "fit F(x) = H(x) − x and add the input back through a shortcut:"
    ))
    st.latex(r"y = \mathcal{F}(x) + x")
    st.markdown(_(
        "If the best thing a unit can do is nothing, it only has to drive F towards zero — far easier than "
        "fitting an identity with a stack of nonlinear layers. With zero-padding shortcuts (option A) the shortcut "
        "costs no parameters, so a ResNet and its *plain twin* have the same layers and parameters and differ only "
        "by the additions. In the paper, "
        "ResNet-56 ends *better* than ResNet-20 (6.97% vs 8.75% test error on CIFAR-10, Table 6), while plain-56 "
        "ends with a higher training error than plain-20 (Figure 6)."
    ))
with right:
    diagram(st, UNIT_DOT.replace("IDENTITY_LABEL", _("identity x")), _(HOME_UNIT_DESCRIPTION), width="content")
st.caption(_("Or build your own network on the **Build** page, then train it against its plain twin on **Train**."))
home_link()
