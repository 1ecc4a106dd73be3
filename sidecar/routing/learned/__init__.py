"""The optional learned router: train on labeled examples, load the file with the policy, predict.

grams     the inputs (word and edge-character n-grams, feature facts), shared by train and predict
packed    weight rows packed into integers: the dot product is one C-level sum
model     the router file: format, validation with paths, ``LearnedModel.predict``
labeled   reading labeled JSONL examples
train     ``fit`` (multinomial logistic regression, plain Python), ``evaluate``, reports
commands  ``llm-sidecar router train`` / ``router eval``
"""
