"""Sentence analysis of a passage: a lead-in ending in a colon takes the list items after it, within its
passage or from the passages after it when the source kept each item apart (NGC major recommendations)."""

from __future__ import annotations

from rag.answer.candidates import analyse_passage
from rag.answer.classify import Classifier
from rag.knowledge import Knowledge, load_vocabulary
from rag.models import Document, Passage
from rag.tokenize import TokenizerSettings, make_tokenizer

KNOWLEDGE = Knowledge(load_vocabulary())
DOCUMENT = Document(id="ngc-1", title="Aflibercept for diabetic macular oedema", kind="guideline", body="NICE")
SECTION = ("Major Recommendations",)


def passage(ordinal: int, text: str) -> Passage:
    return Passage(id=f"ngc-1#{ordinal:012x}", doc_id="ngc-1", section=SECTION, text=text, ordinal=ordinal)


def analyse(p: Passage, continued: list[Passage] | None = None):
    return analyse_passage(p, DOCUMENT, classifier=Classifier(KNOWLEDGE), knowledge=KNOWLEDGE,
                           tokenize=make_tokenizer(TokenizerSettings()), continued=continued or [])


LEAD = "Aflibercept is recommended as an option for treating diabetic macular oedema only if:"
ITEMS = ["• the central retinal thickness is 400 micrometres or more and", "• the company provides the discount agreed."]


def test_a_lead_in_takes_the_items_of_its_own_passage() -> None:
    analysis = analyse(passage(0, "\n".join([LEAD, *ITEMS])))
    first = analysis.sentences[0]
    assert first.text.startswith(LEAD) and "400 micrometres" in first.text and first.dependent and not first.spans
    assert analysis.continued == ()


def test_a_lead_in_takes_the_items_the_source_kept_as_passages_of_their_own() -> None:
    following = [passage(1, ITEMS[0]), passage(2, ITEMS[1])]
    analysis = analyse(passage(0, LEAD), following)
    (only,) = analysis.sentences  # the items are sentences of their own passages, not of this one
    assert only.text == " ".join([LEAD, *ITEMS]) and only.spans
    assert analysis.continued == tuple(following)


def test_a_passage_that_does_not_end_in_a_lead_in_ignores_what_follows() -> None:
    analysis = analyse(passage(0, "Aflibercept is recommended for diabetic macular oedema."), [passage(1, ITEMS[0])])
    assert [s.text for s in analysis.sentences] == ["Aflibercept is recommended for diabetic macular oedema."]
    assert analysis.continued == () and not analysis.sentences[0].spans


def test_a_sentence_saying_a_rating_could_not_be_confirmed_gives_no_rating() -> None:
    rated, unconfirmed = analyse(passage(9, "Aflibercept is a preferred option (category 1). Whether aflibercept is preferred "
                                           "or other recommended could not be confirmed.")).sentences
    assert rated.grade is not None
    assert unconfirmed.negative and unconfirmed.grade is None


def test_a_sentence_about_what_the_text_covers_is_background_not_guidance() -> None:
    scope, guidance = analyse(passage(10, "Recommendations in this section that cover aflibercept refer to the drug class. "
                                         "Aflibercept is recommended for diabetic macular oedema.")).sentences
    assert (scope.section, scope.role) == ("evidence", "background")  # never a bottom line (background does not lead)
    assert guidance.section == "recommendation"


def test_a_structured_abstract_s_context_label_marks_background() -> None:
    abstract = Document(id="pm-1", title="ADHD medications and cardiovascular events", kind="abstract")
    text = ("BACKGROUND A third of adults with ADHD are untreated. CONTEXT More than 1.5 million US adults use stimulants for ADHD. "
            "CONCLUSIONS Current use was not associated with an increased risk of serious cardiovascular events.")
    analysis = analyse_passage(Passage(id="pm-1#0", doc_id="pm-1", section=(), text=text, ordinal=0), abstract,
                               classifier=Classifier(KNOWLEDGE), knowledge=KNOWLEDGE, tokenize=make_tokenizer(TokenizerSettings()),
                               continued=[])
    background, context, conclusion = analysis.sentences
    assert background.text.startswith("A third") and background.role == "background"
    assert context.text.startswith("More than") and context.role == "background"  # the label is a heading, not the statement
    assert conclusion.text.startswith("Current use") and conclusion.role == "conclusion"


def test_in_addition_to_opens_a_sentence_of_its_own_but_in_addition_comma_depends_on_the_one_before() -> None:
    first, own, depends = analyse(passage(11, "Offer diet advice. In addition to diet, exercise lowers glucose. "
                                              "In addition, walk daily.")).sentences
    assert own.text == "In addition to diet, exercise lowers glucose." and not own.dependent
    assert depends.dependent and depends.text.startswith("In addition to diet") and depends.text.endswith("walk daily.")


def test_list_items_a_lead_in_takes_are_not_statements_of_their_own() -> None:
    text = "\n".join(["Delay the next cycle for the following adverse reactions:", "• Serum creatinine 2 mg/dL or greater",
                      "• Serum bilirubin 2 times ULN or greater", "• AST or ALT 2 times ULN or greater", "• Active infection",
                      "• Grade 3 rash of any extent", "Resume at a reduced dose upon resolution."])
    texts = [s.text for s in analyse(passage(12, text)).sentences]
    assert texts[0].startswith("Delay the next cycle") and "Active infection" in texts[0]
    # the items the lead-in took are not statements alone; a fifth item it could not take stays (nothing is lost)
    assert len(texts) == 2 and texts[1].startswith("• Grade 3 rash of any extent"), texts
