"""Reflex states: authentication, the patient's documents, the staff dashboard."""
