"""The catalogue's one stylesheet and one script, written beside its pages (no CDN, no build step).

The script adds the copy buttons of the code blocks and the index's filters; without it every page still reads
well (the buttons and filters stay hidden).
"""

STYLE = """:root{--ink:#1b1f24;--muted:#555e69;--line:#d0d5db;--soft:#f4f6f8;--link:#0b5cad;--accent:#e8f1fb}
*{box-sizing:border-box}[hidden]{display:none!important}
body{font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--ink);background:#fff;margin:0}
main{max-width:1180px;margin:0 auto;padding:1.2em 1em 3em}
a{color:var(--link)}td a,h1{overflow-wrap:break-word}h1{font-size:1.7em;margin:.2em 0 .3em}h2{margin-top:1.6em}
.muted{color:var(--muted)}.nowrap{white-space:nowrap}
.note{background:#fff4d6;border-left:4px solid #b7791f;padding:.5em .8em;margin:.6em 0}
.wrap{overflow-x:auto;max-width:100%}
table{border-collapse:collapse;margin:.5em 0 1.2em;width:100%}
th,td{border-bottom:1px solid var(--line);padding:.45em .6em;text-align:left;vertical-align:top}
th{background:var(--soft);font-weight:600}td.num{text-align:right;white-space:nowrap}
tr.this td{background:var(--accent);font-weight:600}
code,pre{font:13.5px/1.45 ui-monospace,SFMono-Regular,Menlo,Consolas,monospace}
code{background:var(--soft);padding:.05em .3em;border-radius:3px;overflow-wrap:anywhere}
.code{position:relative;margin:.4em 0 1em}
pre{background:#f6f8fa;border:1px solid var(--line);border-radius:6px;padding:.8em;margin:0;overflow-x:auto;
max-width:100%;white-space:pre}
pre.text{white-space:pre-wrap;overflow-wrap:anywhere}
.copy{display:none;position:absolute;top:.4em;right:.4em;font:inherit;font-size:.8em;padding:.15em .6em;
border:1px solid var(--line);border-radius:4px;background:#fff;color:var(--ink);cursor:pointer}
.js .copy{display:block}.js .code pre{padding-top:2.3em}.copy:hover{background:var(--soft)}
.badge{display:inline-block;padding:.05em .55em;border-radius:1em;font-size:.85em;font-weight:600;white-space:nowrap}
.pretrained{background:#dcecff;color:#0a3d7a}.trained{background:#d9f2df;color:#17582b}
.random-init{background:#f1e6ff;color:#4f2687}.recipe{background:#eceff3;color:#39424d}
.metadata-missing{background:#ffe2e0;color:#8a1c12}
.filters{display:flex;flex-wrap:wrap;gap:.6em 1.2em;align-items:center;margin:.8em 0}
.filters select{font:inherit;padding:.15em .3em}
figure{margin:.5em 0 1.5em}figure img{max-width:100%;height:auto;border:1px solid var(--line)}
figcaption{color:var(--muted);font-size:.9em}
dl{display:grid;grid-template-columns:max-content 1fr;gap:.2em 1em}dt{color:var(--muted)}dd{margin:0;min-width:0}
details{margin:.4em 0 1em}summary{cursor:pointer}
@media (max-width:700px){
main{padding:.8em .7em 2em}h1{font-size:1.35em}
.cards thead{display:none}
.cards,.cards tbody,.cards tr,.cards td{display:block;width:100%}
.cards tr{border:1px solid var(--line);border-radius:6px;margin:0 0 .8em;padding:.3em .2em}
.cards td{border:0;padding:.15em .5em;display:grid;grid-template-columns:6.5em minmax(0,1fr);gap:.6em}
.cards td.num{text-align:left;white-space:normal}
.cards td::before{content:attr(data-label);font-size:.85em;color:var(--muted);padding-top:.1em}
dl{grid-template-columns:1fr}dt{margin-top:.4em}
}
"""

SCRIPT = """document.documentElement.classList.add("js");
document.addEventListener("click", function (event) {
  var button = event.target.closest(".copy");
  if (!button) return;
  var text = button.parentNode.querySelector("pre").innerText;
  function done(ok) {
    button.textContent = ok ? "Copied" : "Select and copy";
    setTimeout(function () { button.textContent = "Copy"; }, 1500);
  }
  if (navigator.clipboard && window.isSecureContext) {
    navigator.clipboard.writeText(text).then(function () { done(true); }, function () { done(false); });
  } else {  // plain http: the old way
    var area = document.createElement("textarea");
    area.value = text;
    document.body.appendChild(area);
    area.select();
    var ok = false;
    try { ok = document.execCommand("copy"); } catch (e) {}
    document.body.removeChild(area);
    done(ok);
  }
});
document.addEventListener("DOMContentLoaded", function () {
  var form = document.querySelector(".filters");
  if (!form) return;
  form.hidden = false;
  var rows = document.querySelectorAll("table.models tbody tr");
  function apply() {
    var family = form.family.value, status = form.status.value, shown = 0;
    rows.forEach(function (row) {
      var keep = (!family || row.dataset.family === family) && (!status || row.dataset.status === status);
      row.hidden = !keep;
      shown += keep;
    });
    form.querySelector("output").textContent = shown + " of " + rows.length + " models";
  }
  form.addEventListener("change", apply);
  apply();
});
"""
