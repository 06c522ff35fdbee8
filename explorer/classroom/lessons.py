"""The lessons: a guided path through the papers, one screen each (the question, a prediction, one experiment,
what to look at, the paper's numbers, two or three check questions). Every sentence and number was checked
against the project's paper facts (He et al. 2015 and 2016, Gross & Wilber 2016, Veit et al. 2016, Li et al. 2018).
Size budget: ~200 lines.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass

from ..data.config import DataConfig
from ..i18n import N_, _
from ..nets.config import ModelConfig
from ..training import experiments
from ..training.experiments import ExperimentSpec
from ..training.recipes import TrainConfig


@dataclass(frozen=True)
class Check:
    question: str
    choices: tuple
    answer: str  # one of choices
    why: str  # shown after answering


@dataclass(frozen=True)
class Lesson:
    key: str
    title: str
    question: str  # the lesson's question
    predict: str  # the prediction asked before the experiment
    choices: tuple
    experiment: str  # what the one click trains, in words
    look_at: tuple  # sentences: what to look at in the live charts
    paper: tuple  # ((label, value), ...): the paper's numbers
    source: str  # the paper(s)
    checks: tuple  # Check, ...
    recorded: str | None = None  # the recorded result offered (explorer.store.shipped.RECORDINGS): its experiment

    def spec(self, data: DataConfig, train: TrainConfig) -> ExperimentSpec:
        """The lesson's one experiment (an ExperimentSpec) on this dataset and recipe."""
        return _SPECS[self.key](data, train)


_SPECS: dict[str, Callable[[DataConfig, TrainConfig], ExperimentSpec]] = {
    "degradation": lambda d, t: experiments.figure6(d, t),
    # No zero-init in the twins: both nets start from the very same weights (the plain one cannot zero its branches).
    "fix": lambda d, t: experiments.twin(ModelConfig(depth=56), d, t, shortcut="A"),
    "shortcuts": lambda d, t: experiments.compare(ModelConfig(depth=20), d, t, shortcuts=["none", "A", "B", "C"]),
    "placement": lambda d, t: experiments.compare(ModelConfig(depth=20), d, t, placements=[
        "original", "bn_after_add", "relu_before_add", "relu_preact", "full_preact"]),
    "why": lambda d, t: experiments.twin(ModelConfig(depth=56), d, t, shortcut="A"),
}

_FIGURE6_WORDS = N_("Figure 6 in miniature: plain-20, ResNet-20, plain-56 and ResNet-56 on the same batches.")
# A text made of two sentences kept apart in the catalogue (the note is explorer.training.experiments'): its parts.
_PARTS = {_FIGURE6_WORDS + " " + experiments.FIGURE6_INIT_NOTE: (_FIGURE6_WORDS, experiments.FIGURE6_INIT_NOTE)}
# Texts whose catalogue entry takes a number as a placeholder: gettext tools read "60 % error" as the format "% e".
_FORMATTED = {
    "stays above 60 % error (Figure 6)": (N_("stays above {error} error (Figure 6)"), {"error": "60 %"}),
    "A, B and C are all clearly better than plain-34 (28.54 %) and within 1 % of each other.": (
        N_("A, B and C are all clearly better than plain-34 (28.54 %) and within {gap} of each other."),
        {"gap": "1 %"}),
}

LESSONS = (
    Lesson(
        "degradation", N_("1. The degradation problem"),
        N_("Does a deeper plain network train better than a shallow one?"),
        N_("After training, which has the higher training error?"), ("plain-20", "plain-56", N_("about the same")),
        _FIGURE6_WORDS + " " + experiments.FIGURE6_INIT_NOTE,
        (N_("Look at the left panel, training error: in the paper the deeper plain net's curve stays above the "
         "shallower one's; compare your dashed plain-56 with your dashed plain-20."),
         N_("This is training error, so it is not overfitting: the deeper net fits its own training data worse."),
         N_("Mind the scale: in a short run on the built-in digits, plain-56 barely trains at all, a far larger gap "
         "than the paper's. On CIFAR-10 plain-56 is only mildly worse than plain-20; only plain-110 fails that "
         "badly.")),
        ((N_("plain-20 vs plain-56"), N_("deeper plain nets have higher training error (Figure 6, left)")),
         (N_("plain-20 → plain-56 test error, CIFAR-10 (two public reproductions; the paper gives no table)"),
          N_("10.08 → 15.39 % (techxzen), 9.5 → 12.76 % (a-martyn): mildly worse")),
         ("plain-110", "stays above 60 % error (Figure 6)"),
         (N_("ResNet-20 / ResNet-56 test error"), N_("8.75 % / 6.97 % (Table 6)"))),
        "He et al. 2015",
        (Check(N_("Why is the degradation problem not overfitting?"),
               (N_("The training error rises too"), N_("The test set is too small"),
                N_("The nets have too few parameters")),
               N_("The training error rises too"),
               N_("Overfitting would lower training error and raise test error; here the training error itself is "
               "higher.")),
         Check(N_("Do the gradients vanish in the paper's deep plain nets?"),
               (N_("Yes"), N_("No, BN keeps them healthy")),
               N_("No, BN keeps them healthy"),
               N_("He et al. 2015 checked that with BN neither forward nor backward signals vanish.")))),
    Lesson(
        "fix", N_("2. The fix: a twin with identity shortcuts"),
        N_("What changes when the same 56 layers get identity shortcuts?"),
        N_("Which of the two twins ends with the lower training error?"),
        ("plain-56", "resnet-56", N_("about the same")),
        N_("A twin: ResNet-56 and its plain twin, the same layers and the same starting weights (no zero-init, so "
        "the two start identical)."),
        (N_("The two nets differ only by the additions y = F(x) + x: with option A the shortcut adds no parameters."),
         N_("Watch the gap in training error open between the dashed plain-56 and the solid resnet-56.")),
        ((N_("ResNet-20 / 32 / 44 / 56 / 110 test error"), N_("8.75 / 7.51 / 7.17 / 6.97 / 6.43 % (Table 6)")),
         (N_("ResNet-56 parameters"), N_("0.85M (Table 6)"))),
        "He et al. 2015",
        (Check(N_("What does a residual unit learn?"),
               ("F(x) = H(x) − x", N_("H(x) directly"), N_("the identity only")),
               "F(x) = H(x) − x",
               N_("The layers fit the residual and the shortcut adds x back; driving F towards 0 is easier than "
               "fitting an identity with a stack of nonlinear layers.")),
         Check(N_("With option A shortcuts, how many parameters does the shortcut add?"),
               (N_("None"), N_("One 1×1 conv each")),
               N_("None"), N_("Option A is an identity with zero-padded extra channels: parameter-free."))),
        recorded="twin56"),
    Lesson(
        "shortcuts", N_("3. Shortcut options A, B and C"),
        N_("Do projection shortcuts matter for fixing degradation?"),
        N_("Which shortcut trains best?"), (N_("A (zero-padding)"), N_("B (projection where the shape changes)"),
                                        N_("C (projections everywhere)"), N_("about the same")),
        N_("A comparison at 20 layers: no shortcut, and options A, B and C."),
        (N_("Compare the three residual curves with each other and with the plain net (no shortcut)."),),
        ((N_("ImageNet top-1 error, 34 layers (Table 3)"), N_("plain 28.54 %, A 25.03 %, B 24.52 %, C 24.19 %")),),
        "He et al. 2015",
        (Check(N_("What did Table 3 show about projections?"), (N_("They help a little but are not essential"),
                                                            N_("They are what fixes degradation")),
               N_("They help a little but are not essential"),
               "A, B and C are all clearly better than plain-34 (28.54 %) and within 1 % of each other."),
         Check(N_("Where does option B use a projection?"), (N_("Only where the shape changes"), N_("In every unit")),
               N_("Only where the shape changes"), N_("Option C uses projections in every unit.")))),
    Lesson(
        "placement", N_("4. Where BN and ReLU go"),
        N_("Does it matter whether BN and ReLU sit before or after the addition?"),
        N_("Which placement trains worst?"), (N_("original"), N_("BN after addition"), N_("ReLU before addition"),
                                          N_("full pre-activation")),
        N_("A comparison at 20 layers: original, BN after addition, ReLU before addition, ReLU-only and full "
        "pre-activation."),
        (N_("He et al. 2016 measured these gaps on 110- and 164-layer nets, not at 20 layers."),
         N_("Gross & Wilber 2016 tested the original unit, no ReLU after the addition and BN after the addition (with "
         "and without that ReLU) at 20 and 110 layers: at 20 layers those differences were noise (8.23–8.62 %). "
         "They did not test ReLU before the addition or pre-activation, so for those no paper says what 20 layers "
         "show; a short 20-layer run may show only small gaps."),),
        ((N_("ResNet-110 test error (He et al. 2016, Table 2)"), N_("original 6.61 %, BN after addition 8.17 %, ReLU "
          "before addition 7.84 %, ReLU-only pre-activation 6.71 %, full pre-activation 6.37 %")),
         (N_("Original / no ReLU after addition / BN after addition, 20 layers (Gross & Wilber 2016)"),
          "8.29 % / 8.62 % / 8.34 %"),
         (N_("BN after addition, 20 / 110 layers (Gross & Wilber 2016)"), "8.34 % / 13.56 %")),
        "He et al. 2016, Gross & Wilber 2016",
        (Check(N_("What does full pre-activation keep clean?"),
               (N_("The identity shortcut"), N_("The residual branch")),
               N_("The identity shortcut"), N_("BN and ReLU move before the convs, so the signal passes straight from "
               "unit to unit, forward and backward.")),
         Check(N_("At 20 layers, did the unit variants Gross & Wilber 2016 tested (no ReLU after the addition, BN "
               "after the addition) differ much from the original?"), (N_("No, it is noise"), N_("Yes")),
               N_("No, it is noise"),
               N_("Their 20-layer differences are noise; at 110 layers BN after the addition hurts "
               "badly (13.56 %). They did not test pre-activation or ReLU before the addition.")))),
    Lesson(
        "why", N_("5. Why it works"),
        N_("Why do shortcuts make deep nets trainable?"),
        N_("If one block is deleted from the trained ResNet, what happens to its error?"),
        (N_("It barely changes"), N_("The net breaks")),
        N_("A twin at 56 layers; then Inspect's ablation and loss landscape on the trained nets."),
        (N_("Gradient chart (Why page): at each identity shortcut the “1” of He et al. 2016 (Eq. 4–5) carries the "
         "gradient back across the addition unchanged. This twin uses the original unit, whose ReLU after the "
         "addition also acts on the way back, so from unit to unit the gradient is not carried unchanged: that "
         "takes a clean identity path (pre-activation, He et al. 2016)."),
         N_("On Inspect, delete one block of the trained ResNet: Veit et al. 2016 found the error barely changes "
         "(except at a downsampling block). Read your own numbers: a short run's net may not behave that way."),
         N_("On Inspect, the loss landscape: smooth with shortcuts, more chaotic without as depth grows (Li et al. "
         "2018).")),
        ((N_("Test error with / without skip connections, 56 layers (Li et al. 2018)"), "5.89 % / 13.31 %"),
         (N_("Test error with / without skip connections, 110 layers (Li et al. 2018)"), "5.79 % / 16.44 %"),
         (N_("Paths in a net of n units (Veit et al. 2016)"), N_("2^n; most gradient in ResNet-110 from paths of 5–17 "
          "units"))),
        "He et al. 2016, Veit et al. 2016, Li et al. 2018",
        (Check(N_("How many paths does a net of n residual units have?"), ("2^n", "n", "n²"), "2^n",
               N_("Each unit is either taken or skipped, so path lengths follow a binomial distribution (Veit et al. "
               "2016); they found that deleting one block (except a downsampling one) barely changes a trained "
               "ResNet's error.")),
         Check(N_("In ∂E/∂x_l = ∂E/∂x_L · (1 + …), what does the 1 do?"), (N_("Carries the gradient straight back"),
                                                                      N_("Scales the weights")),
               N_("Carries the gradient straight back"), N_("He et al. 2016: it is unlikely to be cancelled for all "
               "samples in a mini-batch. The equation holds when the shortcut and the step after the addition are "
               "both identities (pre-activation); the original unit's ReLU after the addition breaks it between "
               "units."))),
        recorded="twin56"),
)

_BY_KEY = {lesson.key: lesson for lesson in LESSONS}


def lesson(key: object) -> Lesson:
    """The lesson with this key (ValueError with one sentence for an unknown one)."""
    if not isinstance(key, str) or key not in _BY_KEY:
        raise ValueError(_("There is no lesson {key}; the lessons are {keys}.")
                         .format(key=repr(str(key)[:40]), keys=", ".join(_BY_KEY)))
    return _BY_KEY[key]


def words(text: str) -> str:
    """One of a lesson's texts (LESSONS holds them in English) in the reader's language."""
    parts = _PARTS.get(text)
    if parts:
        return " ".join(_(p) for p in parts)
    if text in _FORMATTED:
        msgid, values = _FORMATTED[text]
        return _(msgid).format(**values)
    return _(text) if text else text


def shown(x: Lesson) -> Lesson:
    """The lesson with its words in the reader's language, to show: its title, question, prediction, experiment,
    what to look at, the paper's numbers and each check's question and explanation. Its key, its choices and each
    check's choices and answer stay as they are (values that are kept with the class and compared): show those with
    `words`, as a widget's format_func."""
    return dataclasses.replace(
        x, title=words(x.title), question=words(x.question), predict=words(x.predict),
        experiment=words(x.experiment), look_at=tuple(words(s) for s in x.look_at),
        paper=tuple((words(a), words(b)) for a, b in x.paper),
        checks=tuple(dataclasses.replace(c, question=words(c.question), why=words(c.why)) for c in x.checks))
