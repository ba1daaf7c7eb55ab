/* pgtls results: the self-contained HTML page (no network access: inline
 * CSS and JS, the matrix embedded as JSON).
 *
 * The grid is built by the script from the embedded data, so filters work
 * offline; filters are read from and written to the URL fragment
 * (#scenario=azure-new&sslmode=require&store=root-g2&verdict=fails&client=..&q=..),
 * which lets `chromium --dump-dom file://...#sslmode=require` prove filtering. */
#include <stdlib.h>
#include <string.h>

#include "rs.h"
#include "rs_internal.h"

static const char css[] =
    "body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#222}"
    "h1{font-size:1.4em}h2{font-size:1.15em;margin-top:1.6em}"
    "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:2px 6px;text-align:left;"
    "vertical-align:top}th{background:#f3f3f3;position:sticky;top:0}"
    "#grid td.cell{cursor:pointer;white-space:nowrap;font-size:12px}"
    ".v-conforms{background:#c8f0c8}.v-deviation-known{background:#fde8a6}"
    ".v-fails{background:#f7b4b4}.v-unsupported{background:#ddd;color:#555}"
    ".v-error{background:#d7b4f7}.none{background:#fff;color:#aaa}"
    "#filters label{margin-right:1em}#detail{position:fixed;right:1em;top:1em;width:38%;"
    "max-height:90%;overflow:auto;background:#fff;border:2px solid #444;padding:1em;"
    "box-shadow:0 2px 12px #0004}#detail pre{white-space:pre-wrap;background:#f6f6f6;"
    "padding:.5em}.run{color:#555}.r-ready{background:#c8f0c8}.r-breaks{background:#f7b4b4}"
    ".r-partial{background:#fde8a6}.r-other{background:#eee}"
    ".g-ok{background:#c8f0c8}.g-breaks{background:#f7b4b4;font-weight:bold}"
    ".g-partial{background:#fde8a6}.g-broken{background:#bbb}.g-na{background:#ddd;color:#555}";

static const char js[] =
    "(function(){\n"
    "'use strict';\n"
    "var M=JSON.parse(document.getElementById('matrix-data').textContent);\n"
    "var keys=['scenario','sslmode','store','verdict','client','q'];\n"
    "var clients=M.clients||[];\n"
    "function el(t,a,txt){var e=document.createElement(t);if(a)for(var k in a)e.setAttribute(k,a[k]);"
    "if(txt!=null)e.textContent=txt;return e;}\n"
    "function readFilters(){var f={};var s=(location.hash||'').replace(/^#/,'')+'&'+"
    "(location.search||'').replace(/^\\?/,'');s.split('&').forEach(function(p){if(!p)return;"
    "var i=p.indexOf('=');if(i<0)return;var k=decodeURIComponent(p.slice(0,i));"
    "if(keys.indexOf(k)>=0&&f[k]===undefined)f[k]=decodeURIComponent(p.slice(i+1));});return f;}\n"
    "function writeFilters(f){var parts=[];keys.forEach(function(k){if(f[k])parts.push(k+'='+"
    "encodeURIComponent(f[k]));});var h=parts.length?'#'+parts.join('&'):'';"
    "if(history.replaceState)history.replaceState(null,'',location.pathname+h);"
    "else location.hash=h;}\n"
    "function distinct(field){var s={};(M.cases||[]).forEach(function(c){s[c[field]]=1;});"
    "return Object.keys(s).sort();}\n"
    "function fillSelect(id,values){var s=document.getElementById(id);values.forEach(function(v){"
    "s.appendChild(el('option',{value:v},v));});}\n"
    "fillSelect('f-scenario',distinct('scenario'));fillSelect('f-sslmode',"
    "['disable','allow','prefer','require','verify-ca','verify-full'].filter(function(m){"
    "return distinct('sslmode').indexOf(m)>=0;}));fillSelect('f-store',distinct('store'));"
    "fillSelect('f-client',clients.map(function(c){return c.key;}));\n"
    "var head=document.querySelector('#grid thead tr');clients.forEach(function(c){"
    "head.appendChild(el('th',{title:c.key},c.client+' '+(c.version||'')));});\n"
    "function matches(c,f){if(f.scenario&&c.scenario!==f.scenario)return false;"
    "if(f.sslmode&&c.sslmode!==f.sslmode)return false;if(f.store&&c.store!==f.store)return false;"
    "if(f.q&&c.id.toLowerCase().indexOf(f.q.toLowerCase())<0)return false;"
    "if(f.verdict||f.client){var ok=false;clients.forEach(function(cl){if(f.client&&cl.key!==f.client)return;"
    "var r=(c.results||{})[cl.key];if(r&&(!f.verdict||r.verdict===f.verdict))ok=true;});if(!ok)return false;}"
    "return true;}\n"
    /* At most LIMIT matching rows are built at once ("show more" adds the
     * next LIMIT): a 10,000-case matrix filters as fast as a small one. One
     * click handler on the grid serves every cell. */
    "var LIMIT=1000,limit=LIMIT,matched=[];\n"
    "function row(c,ci){var tr=el('tr',{'class':'case','data-id':c.id,'data-scenario':c.scenario,"
    "'data-sslmode':c.sslmode,'data-store':c.store});tr.appendChild(el('td',null,c.id));"
    "clients.forEach(function(cl,k){var r=(c.results||{})[cl.key];var td;if(!r){td=el('td',{'class':'cell none'},'—');}"
    "else{td=el('td',{'class':'cell v-'+r.verdict,title:'expected '+r.expected+', observed '+r.observed+' ('+r.verdict+')',"
    "'data-client':cl.key,'data-ci':ci,'data-k':k},r.observed+(r.verdict==='conforms'||r.verdict===r.observed?'':' ['+r.verdict+']'));}"
    "tr.appendChild(td);});return tr;}\n"
    "function fill(from){var tb=document.querySelector('#grid tbody');var more=document.getElementById('more');"
    "if(more)more.parentNode.removeChild(more);var frag=document.createDocumentFragment();"
    "for(var i=from;i<matched.length&&i<limit;i++)frag.appendChild(row(M.cases[matched[i]],matched[i]));"
    "tb.appendChild(frag);var total=(M.cases||[]).length;var shown=Math.min(limit,matched.length);"
    "document.getElementById('shown').textContent=shown===matched.length?matched.length+' of '+total+' cases shown':"
    "matched.length+' of '+total+' cases match; the first '+shown+' are shown';"
    "if(shown<matched.length){var tr=el('tr',{id:'more'});var td=el('td',{colspan:clients.length+1});"
    "var b=el('button',{id:'show-more'},'show '+Math.min(LIMIT,matched.length-shown)+' more');"
    "b.addEventListener('click',function(){var from=limit;limit+=LIMIT;fill(from);});td.appendChild(b);"
    "tr.appendChild(td);tb.appendChild(tr);}}\n"
    "function render(){var f=readFilters();keys.forEach(function(k){var i=document.getElementById('f-'+k);"
    "if(i)i.value=f[k]||'';});document.querySelector('#grid tbody').textContent='';limit=LIMIT;matched=[];"
    "(M.cases||[]).forEach(function(c,ci){if(matches(c,f))matched.push(ci);});fill(0);}\n"
    "document.querySelector('#grid tbody').addEventListener('click',function(e){"
    "var td=e.target.closest?e.target.closest('td.cell'):null;if(!td||!td.hasAttribute('data-ci'))return;"
    "var c=M.cases[+td.getAttribute('data-ci')],cl=clients[+td.getAttribute('data-k')];"
    "show(c,cl,(c.results||{})[cl.key]);});\n"
    "function show(c,cl,r){var d=document.getElementById('detail');d.hidden=false;"
    "document.getElementById('d-title').textContent=c.id+' — '+cl.key;"
    "var dl=document.getElementById('d-fields');dl.textContent='';"
    "var f=[['verdict',r.verdict],['expected',r.expected+' ('+(r.expected_rule||'')+': '+(r.expected_why||'')+')'],"
    "['observed',r.observed+' ('+(r.evidence||'')+')'],['deviation',r.deviation?r.deviation.name+' '+r.deviation.source:''],"
    "['TLS',(r.tls_version||'')+' '+(r.cipher||'')],['elapsed',r.elapsed_ms!=null?r.elapsed_ms+' ms':'']];"
    "if(r.reported)f.push(['field case',r.field+' (reported '+r.reported+', observed '+r.observed+')'],"
    "['source',r.source||'']);"
    "f.forEach(function(p){dl.appendChild(el('dt',null,p[0]));dl.appendChild(el('dd',null,p[1]));});"
    "document.getElementById('d-error').textContent=r.error||'(no error)';"
    "document.getElementById('d-repro').textContent=r.repro||'(none)';"
    "document.getElementById('d-events').textContent=JSON.stringify(r.events||[],null,1);}\n"
    "document.getElementById('d-close').addEventListener('click',function(){"
    "document.getElementById('detail').hidden=true;});\n"
    "keys.forEach(function(k){var i=document.getElementById('f-'+k);if(!i)return;"
    "i.addEventListener(k==='q'?'input':'change',function(){var f=readFilters();f[k]=i.value;"
    "writeFilters(f);render();});});\n"
    "window.addEventListener('hashchange',render);\n"
    "document.getElementById('f-reset').addEventListener('click',function(){writeFilters({});render();});\n"
    "render();\n"
    "})();\n";

/* The matrix as JSON safe inside <script>: every '<' becomes \u003c (only
 * strings can contain it), so neither </script> nor <!-- can end the block. */
/* The event fields the page's detail panel shows; ports, process ids, byte
 * counts and timestamps stay in matrix.json only. Half of a large matrix's
 * bulk is events, so the page stays loadable at 10,000+ cases. */
static const char *const page_event_fields[] = {
    "tls_start", "ssl_response", "handshake", "tls_version", "cipher", "sni", "alpn",
    "client_alert", "server_alert", "tls_error", "auth_method", "auth_result", "end",
    "end_reason", "fatal", "user", "database"};

/* A copy of doc for the page: every case and result, events trimmed to the
 * fields above (new references; doc is not changed). */
static json_t *page_data(json_t *doc)
{
    json_t *out = json_copy(doc), *cases = json_array(), *c;
    size_t i;
    json_array_foreach(json_object_get(doc, "cases"), i, c)
    {
        json_t *nc = json_copy(c), *results = json_object(), *r;
        const char *key;
        json_object_foreach(json_object_get(c, "results"), key, r)
        {
            json_t *nr = json_copy(r), *events = json_array(), *ev;
            size_t e;
            json_array_foreach(json_object_get(r, "events"), e, ev)
            {
                json_t *ne = json_object();
                for (size_t f = 0; f < sizeof(page_event_fields) / sizeof(page_event_fields[0]); f++) {
                    json_t *v = json_object_get(ev, page_event_fields[f]);
                    if (v && !json_is_null(v))
                        json_object_set(ne, page_event_fields[f], v);
                }
                json_array_append_new(events, ne);
            }
            json_object_set_new(nr, "events", events);
            json_object_set_new(results, key, nr);
        }
        json_object_set_new(nc, "results", results);
        json_array_append_new(cases, nc);
    }
    json_object_set_new(out, "cases", cases);
    return out;
}

static void add_embedded_json(rs_buf *b, json_t *doc)
{
    json_t *page = page_data(doc);
    char *text = page ? json_dumps(page, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENSURE_ASCII) : NULL;
    json_decref(page);
    if (!text) {
        b->oom = 1;
        return;
    }
    for (const char *p = text; *p; p++) {
        if (*p == '<')
            rs_buf_add(b, "\\u003c");
        else
            rs_buf_addn(b, p, 1);
    }
    free(text);
}

static void add_select(rs_buf *b, const char *key, const char *label)
{
    rs_buf_printf(b, "<label>%s <select id=\"f-%s\"><option value=\"\">all</option>", label, key);
    if (strcmp(key, "verdict") == 0)
        for (int v = 0; v < ST_VERDICT_COUNT; v++)
            rs_buf_printf(b, "<option value=\"%s\">%s</option>", st_verdict_name((st_verdict)v),
                          st_verdict_name((st_verdict)v));
    rs_buf_add(b, "</select></label>\n");
}

char *rs_render_html(rs_matrix *m, pgtls_err *err)
{
    json_t *doc = rs_matrix_json(m), *run = json_object_get(doc, "run"), *cl;
    rs_buf b = {0};
    rs_rotation_row *rows = NULL;
    size_t i, n = 0;
    unsigned cols = 0;

    rs_buf_add(&b, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
                   "<title>pgtls compatibility matrix</title>\n<style>");
    rs_buf_add(&b, css);
    rs_buf_add(&b, "</style>\n</head>\n<body>\n<h1>pgtls compatibility matrix</h1>\n<p class=\"run\">");
    rs_buf_add(&b, "host ");
    rs_buf_add_xml(&b, rs_jstr(run, "host"));
    rs_buf_add(&b, ", pgtls ");
    rs_buf_add_xml(&b, rs_jstr(run, "pgtls_version"));
    rs_buf_add(&b, ", suite ");
    rs_buf_add_xml(&b, rs_jstr(run, "suite"));
    rs_buf_add(&b, ", ");
    rs_buf_add_xml(&b, rs_jstr(run, "started_at"));
    rs_buf_add(&b, " – ");
    rs_buf_add_xml(&b, rs_jstr(run, "ended_at"));
    if (json_is_true(json_object_get(run, "incomplete")))
        rs_buf_add(&b, " <strong id=\"incomplete\">INCOMPLETE: the run was interrupted</strong>");
    rs_buf_add(&b, "</p>\n");
    {
        char *digest = NULL;
        if (rs_digest_render(doc, RS_DIGEST_HTML, &digest, err) < 0) {
            free(b.s);
            return NULL;
        }
        rs_buf_add(&b, digest);
        int has_digest = *digest != '\0';
        free(digest);
        /* The pictures inline, so the page stays one self-contained file. */
        char *svg = has_digest ? rs_render_readiness_svg(m, err) : strdup("");
        char *heat = svg ? rs_render_heatmap_svg(m, err) : NULL;
        if (!svg || !heat) {
            free(svg);
            free(b.s);
            return NULL;
        }
        /* Inline SVG in HTML needs no namespace: drop it, so the page names
         * no URL at all (it must work offline and never fetch anything). */
        for (char **pic = (char *[]){svg, heat, NULL}; *pic; pic++) {
            static const char ns[] = " xmlns=\"http://www.w3.org/2000/svg\"";
            char *at = strstr(*pic, ns);
            if (at)
                memmove(at, at + sizeof(ns) - 1, strlen(at + sizeof(ns) - 1) + 1);
        }
        rs_buf_add(&b, "<div class=\"picture\">");
        rs_buf_add(&b, svg);
        rs_buf_add(&b, "</div>\n<h2>Client builds × scenarios</h2>\n<div class=\"picture\">");
        rs_buf_add(&b, heat);
        rs_buf_add(&b, "</div>\n");
        free(svg);
        free(heat);
    }
    rs_buf_add(&b, "<h2>Clients</h2>\n<table id=\"clients\"><tr><th>client build</th>"
                   "<th>conforms</th><th>deviation (known)</th><th>fails</th><th>unsupported</th>"
                   "<th>error</th><th>conformance</th></tr>\n");
    json_array_foreach(json_object_get(doc, "clients"), i, cl)
    {
        rs_counts k;
        double p;
        rs_count_client(doc, rs_jstr(cl, "key"), &k);
        p = rs_conformance(&k);
        rs_buf_add(&b, "<tr><td>");
        rs_buf_add_xml(&b, rs_jstr(cl, "key"));
        rs_buf_printf(&b, "</td><td>%d</td><td>%d</td><td>%d</td><td>%d</td><td>%d</td><td>",
                      k.n[ST_CONFORMS], k.n[ST_DEVIATION_KNOWN], k.n[ST_FAILS],
                      k.n[ST_VERDICT_UNSUPPORTED], k.n[ST_VERDICT_ERROR]);
        if (p < 0)
            rs_buf_add(&b, "n/a");
        else
            rs_buf_printf(&b, "%.1f%%", p);
        rs_buf_add(&b, "</td></tr>\n");
    }
    rs_buf_add(&b, "</table>\n<h2>Cases</h2>\n<div id=\"filters\">\n");
    add_select(&b, "scenario", "scenario");
    add_select(&b, "sslmode", "sslmode");
    add_select(&b, "store", "trust store");
    add_select(&b, "verdict", "verdict");
    add_select(&b, "client", "client");
    rs_buf_add(&b, "<label>case id contains <input id=\"f-q\" type=\"search\"></label>\n"
                   "<button id=\"f-reset\" type=\"button\">reset</button>\n</div>\n"
                   "<p id=\"shown\">the grid needs JavaScript</p>\n"
                   "<table id=\"grid\"><thead><tr><th>case</th></tr></thead><tbody></tbody></table>\n"
                   "<div id=\"detail\" hidden><button id=\"d-close\" type=\"button\">close</button>"
                   "<h3 id=\"d-title\"></h3><dl id=\"d-fields\"></dl><h4>raw error</h4>"
                   "<pre id=\"d-error\"></pre><h4>repro</h4><pre id=\"d-repro\"></pre>"
                   "<h4>mock events (the main fields; all of them are in matrix.json)</h4>"
                   "<pre id=\"d-events\"></pre></div>\n");

    rs_buf_add(&b, "<h2>Rotation readiness</h2>\n");
    if (rs_rotation_rows(doc, &rows, &n, &cols) < 0) {
        b.oom = 1;
    } else if (!n) {
        rs_buf_add(&b, "<p>No rotation scenarios in this matrix.</p>\n");
    } else {
        rs_buf_add(&b, "<table id=\"rotation\"><tr><th>client build</th><th>configuration</th>");
        for (size_t s = 0; s < rs_num_rotation_scenarios; s++)
            if (cols & (1u << s))
                rs_buf_printf(&b, "<th>%s</th>", rs_rotation_scenarios[s]);
        rs_buf_add(&b, "<th>readiness</th></tr>\n");
        for (size_t r = 0; r < n; r++) {
            const char *cls = strcmp(rows[r].readiness, "ready") == 0 ? "r-ready"
                              : strcmp(rows[r].readiness, "breaks at rotation") == 0 ? "r-breaks"
                              : strncmp(rows[r].readiness, "partial", 7) == 0         ? "r-partial"
                                                                                      : "r-other";
            rs_buf_add(&b, "<tr><td>");
            rs_buf_add_xml(&b, rs_jstr(rows[r].client, "key"));
            rs_buf_add(&b, "</td><td>");
            rs_buf_add_xml(&b, rows[r].config);
            rs_buf_add(&b, "</td>");
            for (size_t s = 0; s < rs_num_rotation_scenarios; s++)
                if (cols & (1u << s)) {
                    rs_buf_add(&b, "<td>");
                    rs_buf_add_xml(&b, rs_rotation_cell_text(rows[r].observed[s]));
                    rs_buf_add(&b, "</td>");
                }
            rs_buf_printf(&b, "<td class=\"%s\">%s</td></tr>\n", cls, rows[r].readiness);
        }
        rs_buf_add(&b, "</table>\n");
    }
    free(rows);
    rs_buf_add(&b, "<script type=\"application/json\" id=\"matrix-data\">");
    add_embedded_json(&b, doc);
    rs_buf_add(&b, "</script>\n<script>\n");
    rs_buf_add(&b, js);
    rs_buf_add(&b, "</script>\n</body>\n</html>\n");
    return rs_buf_finish(&b, err);
}
