"""Routing by task and cost (issue 19): the pure core, with no I/O on the request path.

Per request, in order (each stage reads what the one before it produced, nothing is parsed twice)::

    body --features.extract_features--> RequestFeatures       once, any dialect (the dialects' walkers)
         --matrix.Router.decide-------> Decision              task, complexity, tier; rules (classify), then the model
         --select.select_cheapest-----> Selection             candidates cheapest first, and why not the rest
                                                              (the request path: the chain's order alone)
         (or split.WeightedSplit.pick)                        a sticky arm by weight
         --caps.TokenCaps-------------> max output tokens to send, or the 413 message

Modules:

    tokens      prompt-token estimator: byte-class counts x fitted coefficients (no vocabulary)
    features    RequestFeatures, the Tally the walkers fill, the text windows rules read
    documents   a document sent inline, in tokens: a PDF's pages, a text file's text
    bodies      the request's own output maximum, checked (the walkers are the dialects': ``features.py``
                in each dialect's package)
    spec        the policy blocks: routing (tiers, classes, complexity, learned), select, split, caps,
                quality
    textview    TextView: a request's two windows and their words, made once per request on first use
    rules       rules compiled at load: feature checks, keyword sets, regexes
    literal     the literal texts every match of a rule's regex starts with: most texts rejected without a search
    rule_index  RuleIndex: a class list's (or the levels') rules in order, tried only when they can match
    classify    Classifier: the rules of a policy's classes and levels compiled at load into one
                function (the request path's decide; the same decisions as the rules tried one by one)
    decider     the source of that function: one ``if``/``elif`` per rule, each condition tested once
    matrix      compile_routing -> Router; Decision and Verdict (which rule or model decided); explain
    learned/    the optional trained router: file format, inference, trainer, router train/eval
    select      Candidate, select_cheapest -> Selection (chain in cost order, exclusions with reasons);
                Menu: a route's candidates with the tier filter done at load (the request path's), and
                the chain made at load when its order cannot depend on the request (``fixed_chain``)
    shadowed    rules and keywords an earlier rule always decides first (class order, levels high to low),
                and a rule that matches every request: load warnings
    tier_order  misordered_levels: a level asking a higher tier than a level above it (load warnings)
    coverage    select_gaps: what a select route's candidates cannot serve (a tier, a capability), said at
                load as an error (nothing served) or a warning (those requests get 400)
    split       WeightedSplit, stable_unit (BLAKE2b), sticky_key
    caps        TokenCaps, set_output_limit
    errors      RoutingError: every load-time problem with its path

Load time builds everything requests read (compiled regexes, keyword sets, packed model weights);
``RoutingError`` (and its ``RouterFileError``, ``LabeledFileError``) lists every problem with its
path.

On the request path (``sidecar.server``): ``conditions`` (route ``match: {task, complexity,
features}``), ``plans`` (``SelectPlan``, ``SplitPlan``), ``compile`` (routing's part of the policy
compiler), ``stage`` (decide, caps, selection, split; before the fallback loop), ``record`` (what was
decided, on ``RequestFacts.routing``), ``report`` (headers, access-line fields, the savings metric),
``explain`` (the CLI's view; ``diff.routing`` is diff's).
"""
