"""The simulation stages on sparse-coding data, one module per rule, named as the rule
(``sparse_coding_data``, ``pretrain``, ``evaluate_pretrained``, ``node_movement``,
``evaluate_pair_loss``, ``pair_attack_study``, ``downstream``, ``downstream_baselines``,
``downstream_blend``, ``threshold_study``, ``exact_verification``, ``exact_table``,
``attack_convergence``); what several of them share: the networks of a job
(``jobs``) and clean downstream heads (``heads``). Each stage function takes the settings of its
rule (``advpretrain.workflow.params``), its named input and output paths, and returns what its
provenance should record. Networks of one job are stacked variant-major
(``model.networks.seed_of_network``).
"""
