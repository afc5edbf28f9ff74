"""The report's HTML template and stylesheet (kept in Python so an installed wheel carries
them without package data). Rendered by Jinja2 with autoescaping on: every value is escaped
unless the renderer marked it safe (only the figure JSON, which it escapes itself)."""

from __future__ import annotations

__all__ = ["STYLE", "TEMPLATE"]

STYLE = """
:root { --ink:#1d232b; --muted:#5c6673; --line:#d9dde3; --soft:#f4f6f8; --accent:#3b5bdb;
  --up:#2b8a3e; --down:#c92a2a; --warn:#b35c00; }
* { box-sizing: border-box; }
html { font-size: 14px; }
body { margin: 0; color: var(--ink); background: #fff;
  font-family: -apple-system, "Segoe UI", Roboto, Helvetica, Arial, sans-serif; line-height: 1.45; }
main { max-width: 1000px; margin: 0 auto; padding: 28px 28px 60px; }
h1 { font-size: 1.9rem; margin: 0 0 4px; letter-spacing: -0.01em; }
h2 { font-size: 1.45rem; margin: 40px 0 10px; padding-bottom: 4px; border-bottom: 2px solid var(--ink); }
h3 { font-size: 1.15rem; margin: 28px 0 8px; }
h4 { font-size: 1rem; margin: 18px 0 6px; }
p { margin: 6px 0 10px; }
a { color: var(--accent); text-decoration: none; }
code, .mono { font-family: "SFMono-Regular", Menlo, Consolas, "Liberation Mono", monospace; font-size: 0.92em; }
.subtitle { color: var(--muted); margin: 0 0 14px; }
.badge { display: inline-block; padding: 1px 8px; border-radius: 10px; font-size: 0.8rem;
  background: #fff3bf; color: #5c3c00; border: 1px solid #f0d264; margin-left: 6px; }
.findings { background: var(--soft); border-left: 4px solid var(--accent); padding: 10px 16px; margin: 14px 0 20px; }
.findings h2 { border: 0; margin: 4px 0 6px; font-size: 1.1rem; }
.findings ul { margin: 4px 0; padding-left: 20px; }
nav.toc { border: 1px solid var(--line); padding: 10px 18px; margin: 10px 0 16px; columns: 2; column-gap: 30px; }
nav.toc h2 { border: 0; margin: 0 0 6px; font-size: 1.05rem; column-span: all; }
nav.toc ol { margin: 0; padding-left: 20px; }
nav.toc li { break-inside: avoid; }
table { border-collapse: collapse; width: 100%; margin: 8px 0 14px; font-size: 0.9rem; }
th, td { border-bottom: 1px solid var(--line); padding: 4px 6px; text-align: left; vertical-align: top; }
th { background: var(--soft); font-weight: 600; }
thead { display: table-header-group; }
tr { break-inside: avoid; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
table.kv th { width: 28%; background: none; font-weight: 600; }
table.dense { font-size: 0.82rem; }
.hash { font-family: Menlo, Consolas, monospace; font-size: 0.78rem; word-break: break-all; }
.up { color: var(--up); } .down { color: var(--down); } .muted { color: var(--muted); }
.warn { color: var(--warn); font-weight: 600; }
.tweet-text { display: block; color: var(--ink); white-space: pre-wrap; word-break: break-word; }
.tweet-meta { color: var(--muted); font-size: 0.85em; }
.contrib { font-size: 0.8rem; line-height: 1.35; }
.contrib .lbl { color: var(--muted); font-weight: 600; margin-right: 5px; }
table.groups tr.total td { border-top: 1px solid var(--ink); font-weight: 600; }
table.ranks caption { caption-side: top; text-align: left; color: var(--muted); font-size: 0.85rem; padding-bottom: 3px; }
table.ranks tr.total td { border-top: 1px solid var(--ink); font-weight: 600; }
table.ranks tr.other td { color: var(--muted); }
figure.chart { margin: 10px 0 18px; break-inside: avoid; }
figure.chart .plot { width: 100%; min-height: 120px; }
figcaption { color: var(--muted); font-size: 0.85rem; margin-top: 2px; }
.note { font-size: 0.9rem; color: var(--muted); }
.limits li { margin-bottom: 6px; }
pre.command { background: var(--soft); padding: 8px 10px; white-space: pre-wrap; word-break: break-all; }
section.viewer { border-top: 1px solid var(--line); }
@page { size: A4; margin: 12mm; }
@media print {
  html { font-size: 11px; }
  main { max-width: none; padding: 0; }
  a { color: inherit; }
  h2 { break-before: page; }
  h2.first, .findings h2, nav.toc h2 { break-before: auto; }
  section.viewer { break-before: page; border: 0; }
  nav.toc { columns: 2; }
}
"""

TEMPLATE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{{ csp }}">
<meta name="referrer" content="no-referrer">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="rankaudit {{ m.packages.rankaudit or '' }}">
<title>{{ title }}</title>
<style>{{ style }}</style>
</head>
<body>
<main>
<header>
<h1>{{ title }}</h1>
<p class="subtitle">Workspace <b>{{ m.workspace.name }}</b> · {{ selection_text }} · created {{ m.created_at }}
{%- if m.pseudonymization.enabled %}<span class="badge">pseudonymized ids</span>{% endif %}</p>
<p>This report audits what the <b>{{ b }}</b> ranker did for the viewers below, measured against
<b>{{ a }}</b>, and why: both orderings of each viewer's timeline, the contributions of every feature
to every tweet's score (SHAP and Integrated Gradients), pairwise explanations of the biggest moves,
global feature importance, and how far the attribution methods can be trusted here. Every number
shown is also in the report's JSON twin.</p>
</header>

<section class="findings" id="findings">
<h2>Key findings</h2>
<ul>{% for line in findings %}<li>{{ line }}</li>{% endfor %}</ul>
</section>

<nav class="toc" id="contents">
<h2>Contents</h2>
<ol>
<li><a href="#manifest">Manifest</a></li>
<li><a href="#summary">Summary: {{ b }} against {{ a }}</a>{% if ex and ex.audit %}<ol><li><a href="#exposure">Exposure</a></li></ol>{% endif %}</li>
<li><a href="#limits">What these attributions can and cannot tell</a></li>
<li><a href="#importance">Global feature importance</a></li>
<li><a href="#agreement">SHAP–IG agreement and completeness</a></li>
<li><a href="#viewers">Viewers</a>
<ol>{% for v in viewers %}<li><a href="#viewer-{{ v.index }}">{{ v.user_id }} · {{ v.request_id }}</a></li>{% endfor %}</ol></li>
<li><a href="#reproduce">Reproducing this report</a></li>
</ol>
</nav>

<h2 id="manifest" class="first">1. Manifest</h2>
<table class="kv">
<tr><th>Created</th><td>{{ m.created_at }}</td></tr>
<tr><th>Audited ranker (b)</th><td>{{ b }}</td></tr>
<tr><th>Reference ranker (a)</th><td>{{ a }}</td></tr>
<tr><th>Selection</th><td>{{ selection_text }}</td></tr>
<tr><th>Seed</th><td>{{ m.seed }} (viewer sample, bootstrap, randomization test, background and SHAP permutations)</td></tr>
<tr><th>Workspace</th><td>{{ m.workspace.name }} · {{ m.workspace.spec.features }} features · {% if m.workspace.heads %}heads
{% for h, w in m.workspace.heads.items() %}{{ h }} {{ w|num }}{% if not loop.last %}, {% endif %}{% endfor %}{% else %}no engagement heads{% endif %}{% if graded %} · relevance: {{ s.relevance.label }}, column <code>{{ s.relevance.column }}</code>{% endif %}
· held out from {{ m.workspace.holdout_from or 'none (every request is in scope)' }}</td></tr>
<tr><th>Pseudonymization</th><td>{% if m.pseudonymization.enabled %}{{ m.pseudonymization.scheme }}; salt {{ m.pseudonymization.salt }}{% else %}off: viewer and author ids are the logged ones{% endif %}</td></tr>
</table>

<h3>Inputs (paths relative to the workspace)</h3>
<table class="dense">
<thead><tr><th>what</th><th>path</th><th class="num">bytes</th><th>sha256</th></tr></thead>
<tbody>
<tr><td>workspace config</td><td class="mono">{{ m.workspace.config.path }}</td><td class="num">{{ m.workspace.config.bytes|num }}</td><td class="hash">{{ m.workspace.config.sha256 }}</td></tr>
<tr><td>feature spec</td><td class="mono">{{ m.workspace.spec.path }}</td><td class="num">{{ m.workspace.spec.bytes|num }}</td><td class="hash">{{ m.workspace.spec.sha256 }}</td></tr>
{% for f in m.workspace.logs.files %}<tr><td>log ({{ m.workspace.logs.format }})</td><td class="mono">{{ f.path }}</td><td class="num">{{ f.bytes|num }}</td><td class="hash">{{ f.sha256 }}</td></tr>{% endfor %}
{% if m.workspace.ground_truth %}<tr><td>ground truth</td><td class="mono">{{ m.workspace.ground_truth.path }}</td><td class="num">{{ m.workspace.ground_truth.bytes|num }}</td><td class="hash">{{ m.workspace.ground_truth.sha256 }}</td></tr>{% endif %}
{% for model in m.workspace.models if model.compared %}{% for f in model.files %}<tr><td>model {{ model.name }}</td><td class="mono">{{ f.path }}</td><td class="num">{{ f.bytes|num }}</td><td class="hash">{{ f.sha256 }}</td></tr>{% endfor %}{% endfor %}
</tbody></table>

<h3>Models</h3>
<table class="dense">
<thead><tr><th>name</th><th>kind</th><th>path</th><th>description</th><th>fingerprint (sha256, as <code>rankaudit validate</code> prints it)</th></tr></thead>
<tbody>{% for model in m.workspace.models %}<tr><td>{{ model.name }}{% if model.compared %} <b>(compared)</b>{% endif %}</td><td>{{ model.kind }}</td><td class="mono">{{ model.path or '–' }}</td><td>{{ model.get('description') or 'not used in this report' }}</td><td class="hash">{{ model.get('fingerprint') or '–' }}</td></tr>{% endfor %}</tbody>
</table>

<h3>Attribution and comparison settings</h3>
<table class="kv dense">
<tr><th>Methods</th><td>{% for model, methods in m.attribution.methods.items() %}{{ model }}: {{ methods|map('upper')|join(', ') }}{% if not loop.last %}; {% endif %}{% endfor %}</td></tr>
<tr><th>Explained output</th><td>{{ m.attribution.output }}</td></tr>
<tr><th>References</th><td>every tweet: <b>{{ m.attribution.references.tweets }}</b> (the mean score of the request's candidates);
biggest movers: <b>{{ m.attribution.references.movers }}</b> (the nearest tweet the rankers order the other way round);
global importance: <b>{{ m.attribution.references.importance }}</b> (a background sample of {{ m.attribution.settings.background_size }} rows served before the holdout)</td></tr>
<tr><th>Attribution settings</th><td>{% for k, v in m.attribution.settings.items() %}<code>{{ k }}</code> = {{ v }}{% if not loop.last %}, {% endif %}{% endfor %}</td></tr>
<tr><th>Comparison settings</th><td>{% for k, v in m.compare.items() %}<code>{{ k }}</code> = {{ v }}{% if not loop.last %}, {% endif %}{% endfor %}</td></tr>
<tr><th>Surprise score</th><td>k = {{ m.surprise.k }}, p = {{ m.surprise.p }}; {% if m.surprise.weights %}weights {% for k, v in m.surprise.weights.items() %}{{ component_names.get(k, k) }} {{ v|fixed(2) }}{% if not loop.last %}, {% endif %}{% endfor %}; {{ m.surprise.requests|num }} requests scored ({{ m.surprise.scope }}){% endif %}</td></tr>
<tr><th>Global importance sample</th><td>about {{ m.importance.rows|num }} rows of whole requests, seed {{ m.importance.seed }}; drawn: {{ imp.rows|num }} rows of {{ imp.requests|num }} requests served from {{ imp.window.since or 'the start of the log' }}</td></tr>
<tr><th>Threads</th><td>torch {{ m.threads.torch or '–' }} · OMP_NUM_THREADS {{ m.threads.OMP_NUM_THREADS or 'unset' }} (the last bits of the deep ranker's float32 sums depend on them)</td></tr>
<tr><th>Packages</th><td>{% for k, v in m.packages.items() %}{{ k }} {{ v or 'not installed' }}{% if not loop.last %} · {% endif %}{% endfor %}</td></tr>
</table>

<h2 id="summary">2. Summary: {{ b }} against {{ a }}</h2>
<p>Over the {{ s.requests|num }} {{ 'held-out requests (served from ' ~ s.holdout_from ~ ', which neither ranker was trained on)' if s.scope == 'holdout' else 'logged requests (the workspace sets no holdout)' }}:
{{ s.rows|num }} candidate tweets, {{ s.users|num }} viewers. Means are per request with 95% bootstrap
intervals ({{ s.settings.n_bootstrap|num }} resamples); p-values are from a paired randomization test.
{% if graded %}Relevance is {{ s.relevance.label }}, judged in the log column <code>{{ s.relevance.column }}</code>.{% else %}Relevance is the engagement-weighted value of what the viewer did.{% endif %}</p>
<table>
<thead><tr><th>metric</th><th class="num">{{ a }}</th><th class="num">{{ b }}</th><th class="num">{{ b }} − {{ a }}</th><th class="num">p</th><th class="num">requests</th></tr></thead>
<tbody>{% for name, r in s.overall.ranker_metrics.items() %}<tr><td>{{ name|metric }}</td><td class="num">{{ r.a|ci }}</td><td class="num">{{ r.b|ci }}</td><td class="num">{{ r.diff|ci(signed=True) }}</td><td class="num">{{ r.p_value|pvalue }}</td><td class="num">{{ r.n|num }}</td></tr>{% endfor %}</tbody>
</table>
<table>
<thead><tr><th>agreement of the two orderings</th><th class="num">mean [95% CI]</th><th class="num">requests</th></tr></thead>
<tbody>{% for name, r in s.overall.agreement.items() %}<tr><td>{{ name|metric }}</td><td class="num">{{ r|ci }}</td><td class="num">{{ r.n|num }}</td></tr>{% endfor %}</tbody>
</table>
{% if s.heads %}<table>
<thead><tr><th>head</th><th class="num">ROC-AUC {{ a }}</th><th class="num">ROC-AUC {{ b }}</th><th class="num">PR-AUC {{ a }}</th><th class="num">PR-AUC {{ b }}</th><th class="num">RCE {{ a }}</th><th class="num">RCE {{ b }}</th></tr></thead>
<tbody>{% for head in head_names %}<tr><td>{{ head }}</td>
{% for key in ('roc_auc', 'pr_auc', 'rce') %}{% for side in ('a', 'b') %}<td class="num">{{ (s.heads.get(side, {}).get(head, {}) or {}).get(key)|fixed(3) }}</td>{% endfor %}{% endfor %}</tr>{% endfor %}</tbody>
</table>{% endif %}
{% for f in figures_by_section.get('summary', []) %}{{ figure(f) }}{% endfor %}
{% if segments %}<h3>By segment</h3>
<table class="dense">
<thead><tr><th>segment</th><th class="num">requests</th><th class="num">{{ seg_metric|metric }} {{ a }}</th><th class="num">{{ seg_metric|metric }} {{ b }}</th><th class="num">{{ b }} − {{ a }} [95% CI]</th><th class="num">p</th></tr></thead>
<tbody>{% for seg in segments %}<tr><td>{{ seg.segmentation }}: {{ seg.segment }}</td><td class="num">{{ seg.requests|num }}</td><td class="num">{{ seg.metric.a.mean|fixed(3) }}</td><td class="num">{{ seg.metric.b.mean|fixed(3) }}</td><td class="num">{{ seg.metric.diff|ci(signed=True) }}</td><td class="num">{{ seg.metric.p_value|pvalue }}</td></tr>{% endfor %}</tbody>
</table>{% endif %}
{% if ex %}<h3 id="exposure">Exposure: which groups {{ b }} amplifies against {{ a }}</h3>
{% if ex.audit %}<p>Reach of a group is the expected share of viewers who see at least one of its tweets in their
timeline (position model: {{ ex.audit.attention.kind }}); amplification is its reach under {{ ex.audit.models.audited }} over its reach
under {{ ex.audit.models.reference }}, minus 1 (0% is parity), and the exposure ratio the same for its exposure share.
Intervals: {{ (100 * ex.audit.confidence)|round|int }}% paired bootstrap over {{ ex.audit.viewers|num }} viewers of {{ ex.audit.requests|num }} {{ ex.audit.scope }} requests.
This {{ ex.measures }}.</p>
<table class="dense">
<thead><tr><th>group</th><th class="num">tweets</th><th class="num">reach {{ ex.audit.models.reference }}</th><th class="num">reach {{ ex.audit.models.audited }}</th><th class="num">amplification [CI]</th><th class="num">exposure ratio [CI]</th></tr></thead>
<tbody>{% for g in ex.audit.groups %}<tr><td>{{ g.grouping }}: {{ g.group }}</td><td class="num">{{ g.tweets|num }}</td><td class="num">{{ g.reach_a|fixed(3) }}</td><td class="num">{{ g.reach_b|fixed(3) }}</td><td class="num">{{ g.amplification|spct }} [{{ g.amplification_low|spct }}, {{ g.amplification_high|spct }}]</td><td class="num">{{ g.exposure_ratio|spct }} [{{ g.exposure_ratio_low|spct }}, {{ g.exposure_ratio_high|spct }}]</td></tr>{% endfor %}</tbody>
</table>
<p>Disparity (largest minus smallest amplification within a grouping):{% for dsp in ex.audit.disparity %} {{ dsp.grouping }} {{ dsp.disparity|spct }} [{{ dsp.disparity_low|spct }}, {{ dsp.disparity_high|spct }}]{{ ';' if not loop.last else '.' }}{% endfor %}</p>
{% for f in figures_by_section.get('exposure', []) %}{{ figure(f) }}{% endfor %}
{% else %}<p class="note">{{ ex.note }}</p>{% endif %}{% endif %}

<h2 id="limits">3. What these attributions can and cannot tell</h2>
<ol class="limits">{% for item in limits %}<li><b>{{ item.title }}</b> {{ item.text }}</li>{% endfor %}</ol>

<h2 id="importance">4. Global feature importance</h2>
<p>Mean |attribution| of the final score per feature over {{ imp.rows|num }} candidate rows of {{ imp.requests|num }}
requests drawn with the report's seed, each tweet explained against a background sampled from the training
period (the <i>global</i> reference, so viewer features count too). <i>Share</i> is a feature's part of the
ranker's total mean |attribution|; shares are comparable across rankers, raw values are in score units.</p>
<table class="dense">
<thead><tr><th>feature</th>{% for col in imp_columns %}<th class="num">{{ col.label }}</th>{% endfor %}</tr></thead>
<tbody>{% for row in imp_rows %}<tr><td class="mono">{{ row.feature }}</td>{% for cell in row.cells %}<td class="num">{{ cell }}</td>{% endfor %}</tr>{% endfor %}</tbody>
</table>
{% for f in figures_by_section.get('importance', []) %}{{ figure(f) }}{% endfor %}

<h2 id="agreement">5. SHAP–IG agreement and completeness</h2>
<p>Where a ranker has both methods, each tweet's SHAP and IG attributions are correlated across features
(Pearson r per tweet); the table summarises those correlations and how often both methods name the same
largest feature. Low agreement on a tweet means its explanation depends on the method: read it with care.</p>
{% if agreement_rows %}<table class="dense">
<thead><tr><th>ranker</th><th>reference</th><th class="num">tweets</th><th class="num">median r</th><th class="num">10th pct r</th><th class="num">min r</th><th class="num">r ≥ 0.9</th><th class="num">same top feature</th><th class="num">feature-ranking ρ</th><th class="num">pooled r</th></tr></thead>
<tbody>{% for r in agreement_rows %}<tr><td>{{ r.model }}</td><td>{{ r.reference }}</td><td class="num">{{ r.tweets|num }}</td><td class="num">{{ r.median_pearson|fixed(3) }}</td><td class="num">{{ r.p10_pearson|fixed(3) }}</td><td class="num">{{ r.min_pearson|fixed(3) }}</td><td class="num">{{ r.share_pearson_0_9|pct }}</td><td class="num">{{ r.same_top_feature|pct }}</td><td class="num">{{ r.feature_spearman|fixed(3) }}</td><td class="num">{{ r.pooled_pearson|fixed(3) }}</td></tr>{% endfor %}</tbody>
</table>{% else %}<p class="note">No ranker of this report has both SHAP and IG.</p>{% endif %}
{% for f in figures_by_section.get('agreement', []) %}{{ figure(f) }}{% endfor %}
<h3>Completeness</h3>
<p>Completeness error = |Σ attributions − (score − reference score)|, in score units; relative = that divided by
|score − reference score|. SHAP (permutation sampling, or TreeSHAP for tree models) adds up by construction;
IG is a numerical path integral: rows still above {{ m.attribution.settings.tolerance|pct }} relative error after
{{ m.attribution.settings.ig_max_steps }} integration points are flagged <i>not converged</i> (⚠ in the tables below).</p>
<table class="dense">
<thead><tr><th>ranker</th><th>method</th><th>reference</th><th class="num">rows</th><th class="num">max |error|</th><th class="num">median relative</th><th class="num">max relative</th><th class="num">converged</th><th class="num">not converged</th></tr></thead>
<tbody>{% for r in d.completeness %}<tr><td>{{ r.model }}</td><td>{{ r.method|upper }}</td><td>{{ r.reference }}</td><td class="num">{{ r.rows|num }}</td><td class="num">{{ r.max_abs_error|sci }}</td><td class="num">{{ r.median_relative_error|sci }}</td><td class="num">{{ r.max_relative_error|sci }}</td><td class="num">{{ r.converged|pct }}</td><td class="num">{{ r.not_converged|num }}</td></tr>{% endfor %}</tbody>
</table>
{% if d.seed_sensitivity %}<h3>Sensitivity of SHAP to the seed</h3>
<p>The first reported request's SHAP values recomputed with seed {{ m.seed + 1 }} instead of {{ m.seed }}:</p>
<table class="dense">
<thead><tr><th>ranker</th><th>request</th><th class="num">tweets</th><th class="num">mean |SHAP|</th><th class="num">mean |change|</th><th class="num">relative change</th><th class="num">max |change|</th><th class="num">top feature changed</th></tr></thead>
<tbody>{% for r in d.seed_sensitivity %}<tr><td>{{ r.model }}</td><td class="mono">{{ r.request }}</td><td class="num">{{ r.tweets|num }}</td><td class="num">{{ r.mean_abs_attribution|sci }}</td><td class="num">{{ r.mean_abs_change|sci }}</td><td class="num">{{ r.relative_change|pct }}</td><td class="num">{{ r.max_abs_change|sci }}</td><td class="num">{{ r.top_feature_changed|pct }}</td></tr>{% endfor %}</tbody>
</table>{% endif %}

<h2 id="viewers">6. Viewers</h2>
<p>One section per reported viewer: their request ({{ selection_rule }}), both orderings, every candidate with
its {{ m.attribution.top_features }} largest contributions under each ranker and method and the sum of all other
features (request reference: score minus the mean score of the request's candidates), and the
{{ m.attribution.movers }} biggest movers each explained against the nearest tweet the two rankers order the
other way round (pair reference), per feature group of the spec (the sum over its features) and per feature. Positions are 1-based; <span class="up">▲</span> means {{ b }} placed the tweet higher
than {{ a }}.</p>
{% for v in viewers %}
<section class="viewer" id="viewer-{{ v.index }}">
<h3>6.{{ v.index + 1 }} Viewer <span class="mono">{{ v.user_id }}</span> · request <span class="mono">{{ v.request_id }}</span></h3>
<p class="note">Served {{ v.served_at }} · {{ v.candidates|num }} candidates · {% if graded %}relevant: {{ v.metrics.engaged|num }}{% else %}engaged with {{ v.metrics.engaged|num }}{% endif %}
{%- if v.surprise %} · surprise rank {{ v.surprise.rank|num }} (score {{ v.surprise.surprise|fixed(3) }}){% endif %}</p>
{% if v.why_surprising %}<p class="why"><b>Why surprising:</b> {{ v.why_surprising }} (the features with the largest Shapley shares of the candidate pairs {{ a }} and {{ b }} order differently).</p>{% endif %}
{% if v.surprise %}<p>Surprise components: disagreement {{ v.surprise.disagreement|fixed(3) }}, demoted {{ 'relevance' if graded else 'engagement' }} {{ v.surprise.demoted_engagement|fixed(3) }},
promoted {{ 'irrelevant' if graded else 'unengaged' }} {{ v.surprise.promoted_unengaged|fixed(3) }}, out of range {{ v.surprise.out_of_range|fixed(3) }}{% if v.surprise.feature %};
<span class="warn">{{ v.surprise.feature }} = {{ v.surprise.feature_value|num }}</span> in {{ b }}'s top {{ m.surprise.k }} lies outside its training range
[{{ v.surprise.train_min|num }}, {{ v.surprise.train_max|num }}]{% endif %}.</p>{% endif %}
<table class="dense">
<thead><tr>{% for col in v.metric_columns %}<th class="num">{{ col.label }}</th>{% endfor %}</tr></thead>
<tbody><tr>{% for col in v.metric_columns %}<td class="num">{{ col.value }}</td>{% endfor %}</tr></tbody>
</table>
{% for f in v.slope %}{{ figure(f) }}{% endfor %}
<table class="dense tweets">
<thead><tr><th class="num">{{ b }} #</th><th class="num">{{ a }} #</th><th class="num">move</th><th>tweet</th><th>{{ 'relevance' if graded else 'engaged' }}</th><th class="num">score {{ a }}</th><th class="num">score {{ b }}</th><th>top contributions (request reference)</th></tr></thead>
<tbody>{% for t in v.tweets %}<tr>
<td class="num">{{ t.position_b }}</td><td class="num">{{ t.position_a }}</td>
<td class="num">{% if t.displacement > 0 %}<span class="up">▲ {{ t.displacement }}</span>{% elif t.displacement < 0 %}<span class="down">▼ {{ -t.displacement }}</span>{% else %}<span class="muted">–</span>{% endif %}</td>
<td><span class="mono">{{ t.tweet_id }}</span> <span class="tweet-meta">by {{ t.author_id }}</span>{% if t.text %}<span class="tweet-text">{{ t.text }}</span>{% endif %}</td>
<td>{% if graded %}grade {{ t.grade|num }}{% if t.engaged %} · {{ t.engaged|join(', ') }}{% endif %}{% else %}{{ t.engaged|join(', ') or '–' }}{% endif %}{% if t.negative %} <span class="down">(negative)</span>{% endif %}</td>
<td class="num">{{ t.score_a|num }}</td><td class="num">{{ t.score_b|num }}</td>
<td class="contrib">{% for c in t.contributions %}<div><span class="lbl">{{ c.label }}</span>{{ c.text }}{% if c.flag %} <span class="warn">⚠ {{ c.flag }}</span>{% endif %}</div>{% endfor %}</td>
</tr>{% endfor %}</tbody>
</table>
{% if v.movers %}<h4>Biggest movers, explained pairwise</h4>
{% for mv in v.movers %}<p>{{ mv.text }}</p>
{% if mv.rank %}<table class="dense ranks">
<caption>Why <span class="mono">{{ mv.rank.tweet_id }}</span> sits at #{{ mv.rank.at_x }} under {{ mv.rank.model }} (#{{ mv.rank.at_reference }} with every feature at the request reference, the other candidates fixed): rank Shapley values; {{ mv.rank.summary }}</caption>
<thead><tr><th>feature</th>{% for col in mv.rank.columns %}<th class="num">{{ col }}</th>{% endfor %}</tr></thead>
<tbody>{% for row in mv.rank.rows %}<tr{% if row.kind %} class="{{ row.kind }}"{% endif %}><td>{{ row.player }}</td>{% for cell in row.cells %}<td class="num">{{ cell }}</td>{% endfor %}</tr>{% endfor %}</tbody>
</table>{% endif %}
{% if mv.group_rows %}<table class="dense groups">
<thead><tr><th>feature group</th>{% for col in mv.group_columns %}<th class="num">{{ col }}</th>{% endfor %}</tr></thead>
<tbody>{% for row in mv.group_rows %}<tr{% if row.total %} class="total"{% endif %}><td>{{ row.group }}</td>{% for cell in row.cells %}<td class="num">{{ cell }}</td>{% endfor %}</tr>{% endfor %}</tbody>
</table>{% endif %}
{% for f in mv.figures %}{{ figure(f) }}{% endfor %}{% endfor %}
{% else %}<p class="note">The two rankers order this request identically: no tweet moved.</p>{% endif %}
</section>
{% endfor %}

<h2 id="reproduce">Reproducing this report</h2>
<p>With the inputs of the manifest (check the sha256 sums) and the same package versions, this command
writes the same JSON document, byte for byte except <code>manifest.created_at</code>{% if m.pseudonymization.enabled %}
(with the same pseudonymization salt in <code>RANKAUDIT_PSEUDONYM_SALT</code>; a random salt gives other pseudonyms){% endif %}:</p>
<pre class="command">{{ m.command }}</pre>
<p class="note">Generated by rankaudit {{ m.packages.rankaudit or '' }}. The figures are interactive when the file is opened in a
browser (hover for details); the page needs no network.</p>
</main>
{% for block in data_blocks %}{{ block }}{% endfor %}
<script>{{ plotly_js }}</script>
<script>{{ boot_js }}</script>
</body>
</html>
"""
