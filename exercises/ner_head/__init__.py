"""Exercise 5: a token-classification (NER) head: label alignment, masked loss, BIO decoding."""

from exercises import course_exercise

EXERCISE = course_exercise(
    "ner_head",
    "Token classification: an NER head",
    order=5,
    section="5. Token classification: named-entity recognition",
    data=("gpt2_tokenizer", "ner"),
    # train_head builds a torch.optim optimizer, whose first use imports torch._dynamo.
    worker_imports=("torch._dynamo",),
    # The checks encode sentences of the course corpus with the GPT-2 tokenizer.
    check_preloads=("exercises.ner_head.ner_data:preload_corpus",),
)
