"""Levels quoted in a report's comment or interpretation sentence (targets, staging bands,
definitions, bounds, earlier results in prose) are no result; a real result beside them still is.
Each snippet was written for these tests."""

from __future__ import annotations

from datetime import date

from medupload.pipeline.extraction import extract

TODAY = date(2026, 12, 1)


def _valued(text: str) -> set[tuple[str, str | None]]:
    return {(f.concept, f.value) for f in extract(text, today=TODAY).facts if f.kind == "lab" and f.value}


WRAPPED_TARGETS = """ LDL Cholesterol                     2.74              mmol/L
 Non-HDL Cholesterol                 3.41              mmol/L
     Lipid targets (CCS 2021) for patients on
     statin: LDL-C < 2.0 mmol/L or non-HDL-C < 2.6
     mmol/L. Fasting not required.
"""


def test_a_target_wrapped_over_two_comment_lines_is_no_result() -> None:
    values = {value for _, value in _valued(WRAPPED_TARGETS)}
    assert {"2.74", "3.41"} <= values
    assert not values & {"<2.0", "<2.6", "2.0", "2.6"}


def test_a_result_after_the_target_comment_is_still_read() -> None:
    text = WRAPPED_TARGETS + "\nRepeat lipids 2026-11-30\nLDL-C 1.8 mmol/L\n"
    assert "1.8" in {value for _, value in _valued(text)}


def test_a_staging_band_or_definition_in_a_comment_is_no_result() -> None:
    text = """eGFR                                 61                >=60 mL/min/1.73m2
    eGFR calculated with CKD-EPI 2021 equation. An eGFR of 45-59
    on two occasions 3 months apart suggests CKD stage G3a.
eGFR                       43             L      mL/min/1.73m2    >=60
     eGFR by CKD-EPI 2021. eGFR <60 for 3 months or more is consistent with CKD.
"""
    values = {value for _, value in _valued(text)}
    assert {"61", "43"} <= values
    assert not values & {"45-59", "<60"}


def test_a_comparator_result_in_a_table_row_is_still_read() -> None:
    text = "Troponin T (hs)            <5          ng/L          0 - 14\nCRP     <4    mg/L\n"
    assert {"<5", "<4"} <= {value for _, value in _valued(text)}


def test_a_bound_and_an_earlier_result_in_prose_are_no_result() -> None:
    text = """Triglycerides
2.10 mmol/L    Above range
Non-fasting sample: triglycerides can be up to 2.3 mmol/L after a meal.

Hi, your A1c is higher than in May (A1c was 6.8 then). LDL 138 -- we should talk.
HbA1c                               5,6                 %                4,0 - 6,0
  Vorwert HbA1c 5,8 % (03/2026).
Objetivo de control en DM2 (individualizar): HbA1c < 7 % (53 mmol/mol)
"""
    values = {value for _, value in _valued(text)}
    assert {"138", "5.6"} <= values
    assert not values & {"2.3", "6.8", "5.8", "<7"}


def test_a_value_that_rose_is_still_read() -> None:
    # "was N" without "then", and a rise "up to N", are this patient's results.
    values = {value for _, value in _valued("Her A1c was 6.8 today. Troponin went up to 0.9 ng/mL.")}
    assert {"6.8", "0.9"} <= values
