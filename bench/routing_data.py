"""Templated training prompts for the routing benches: seven task classes, three complexity levels.

``training_examples(n, seed)`` fills templates with slot values; it is what a team without logged,
labeled traffic could start from. The held-out set the benches score on is hand-written and phrased
differently (``bench/data/routing_heldout.jsonl``); the complex templates include short hard prompts
(proofs, trick arithmetic, terse multi-step questions) so the model can learn that length is not
difficulty.
"""

from __future__ import annotations

import random
from typing import Any

SLOTS: dict[str, tuple[str, ...]] = {
    "field": ("dates", "names", "amounts", "email addresses", "order numbers", "phone numbers", "addresses", "prices"),
    "doc": ("invoice", "email", "receipt", "contract", "ticket", "letter", "form", "message"),
    "snippet": (
        "Order 88213 shipped on 4 May to Jonas Weber, Hauptstr. 5, Munich.",
        "Contact: lena@example.com, +44 20 7946 0958.",
        "Total: 129.90 EUR incl. VAT, due 30 days net.",
        "Meeting with Raj and Emma moved to Friday 10:00.",
        "Ref 77-A, signed by K. Osei on 2023-11-02.",
    ),
    "review": (
        "Great battery life, would buy again.",
        "The screen cracked within a week.",
        "It works, but the manual is useless.",
        "Fast shipping and friendly support!",
    ),
    "categories": ("billing, bug or feature", "sales, support or legal", "urgent or not urgent", "spam or not spam"),
    "lang": ("French", "German", "Spanish", "Italian", "Japanese", "Portuguese"),
    "sentence": (
        "The train is late again.",
        "Please sign the attached form.",
        "I would like a table for two.",
        "See you next week.",
    ),
    "country": ("Canada", "Kenya", "Norway", "Chile", "Vietnam", "Egypt"),
    "word": ("brave", "quick", "ancient", "fragile", "honest"),
    "para": (
        "Sales rose 8% in the north region while the south stayed flat; the team expects a stronger fourth quarter.",
        "The migration finished two days late because of a schema conflict, but no data was lost and nobody noticed.",
        "Researchers found that short daily walks improved sleep quality among older adults over a twelve-week study.",
    ),
    "plang": ("Python", "Go", "Rust", "JavaScript", "Java", "TypeScript"),
    "job": (
        "parses a CSV file",
        "reverses a linked list",
        "reads a YAML config",
        "sorts users by age",
        "retries an HTTP call",
    ),
    "topic": ("solar panels", "electric cars", "open-plan offices", "microservices", "remote work"),
    "theorem": (
        "the square root of 2 is irrational",
        "there are infinitely many primes",
        "every tree with n nodes has n-1 edges",
        "the sum 1+2+...+n equals n(n+1)/2",
        "a^2 + b^2 >= 2ab for real a and b",
    ),
    "n": ("3", "7", "12", "25", "48", "99"),
    "m": ("4", "9", "13", "31", "64", "101"),
}

TEMPLATES: dict[tuple[str, str], tuple[str, ...]] = {
    ("extraction", "simple"): (
        "Extract the {field} from this {doc}: {snippet}",
        "Pull out the {field} in the following {doc}. {snippet}",
        "What are the {field} mentioned here? {snippet}",
        "Return the {field} as a JSON list: {snippet}",
    ),
    ("classification", "simple"): (
        "Classify this review as positive, negative or neutral: {review}",
        "Is the following {doc} {categories}? {snippet}",
        "Label the sentiment of: {review}",
        "Which category fits this {doc}: {categories}? {snippet}",
    ),
    ("translation", "simple"): (
        "Translate to {lang}: {sentence}",
        "How would you say '{sentence}' in {lang}?",
        "Please translate this into {lang}: {sentence}",
    ),
    ("chat", "simple"): (
        "What is the capital of {country}?",
        "Give me an antonym of '{word}'.",
        "What does the word '{word}' mean?",
        "Hello, good morning!",
        "What currency is used in {country}?",
    ),
    ("summarization", "medium"): (
        "Summarize this in one sentence: {para}",
        "Give me the key points of the following text: {para}",
        "Write a short summary for a manager: {para}",
    ),
    ("code", "medium"): (
        "Write a {plang} function that {job}.",
        "Show me how to write a {plang} program that {job}.",
        "My {plang} code that {job} returns the wrong result. What are common mistakes?",
        "Explain this {plang} snippet, which {job}, line by line.",
    ),
    ("chat", "medium"): (
        "What are the advantages and disadvantages of {topic}?",
        "Explain {topic} to a high-school student.",
        "Write a friendly announcement email about {topic} for our team.",
        "Give me a short plan for introducing {topic} at a small company.",
    ),
    ("math", "complex"): (
        "Prove that {theorem}.",
        "Show, step by step, that {theorem}.",
        "Give a rigorous proof that {theorem}.",
        "What is {n}^{m} modulo {n}?",
        "Compute {n} * {m} - {m} / {n} exactly.",
        "How many integers between {n} and {m}0 are divisible by {n}?",
        "If {n} workers build {n} walls in {n} days, how many days do {m} workers need for {m} walls?",
        "Which is bigger: {n}.{m} or {n}.{n}?",
        "Probability of rolling at least one six in {n} throws?",
        "What is the sum of all primes below {m}?",
    ),
    ("code", "complex"): (
        "Design a {plang} service that {job} for a million users; discuss the trade-offs.",
        "Find the concurrency bug: two threads update a shared map in {plang} without locking.",
        "What is the worst-case time complexity of an algorithm that {job}, and prove it.",
        "Why can this {plang} program deadlock when two workers take the same locks in a different order?",
    ),
    ("chat", "complex"): (
        "If all {word} things are red and some red things are round, must some {word} things be round?",
        "Analyse the long-term economic effects of {topic}, weighing the evidence on each side.",
        "Estimate how many {topic} exist in {country}, stating every assumption.",
    ),
}


def training_examples(n: int, seed: int = 0) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    keys = list(TEMPLATES)
    out = []
    for _ in range(n):
        task, complexity = rng.choice(keys)
        template = rng.choice(TEMPLATES[(task, complexity)])
        text = template.format(**{name: rng.choice(values) for name, values in SLOTS.items()})
        out.append({"text": text, "task": task, "complexity": complexity})
    return out
