/* The analysts' dashboard: plain JavaScript over the query API, charts by the vendored Apache ECharts.
 *
 * - The token lives in this tab's sessionStorage and travels only as a bearer header, never in a URL.
 * - Every text comes from /dashboard/messages.json (three languages); numbers and dates are formatted
 *   with Intl for the language's locale.
 * - Figures are shown as the API serves them: a withheld figure shows its flag (<5, x, -), never a number,
 *   and the one-line rule of every flag present is written under the block that shows it.
 * - Each chart has a data table beside it as its text alternative; everything is reachable by keyboard.
 * - Data is written with textContent only (never innerHTML).
 */
"use strict";

(() => {
  const TOKEN_KEY = "hub.dashboard.token";
  const LANGUAGE_KEY = "hub.dashboard.language";
  const TIME_ZONE = "Asia/Shanghai";
  // Okabe–Ito: distinguishable with the common colour-vision deficiencies; decals add a second cue.
  const PALETTE = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000"];
  const KINDS = ["month", "quarter", "year"];

  const state = {
    messages: null,
    language: "en",
    doc: null,
    charts: {},
    zone: "gba",
    kind: "year",
    period: null,
    scope: "",
    comparison: "cases_opened",
    loading: 0,
  };

  const $ = (id) => document.getElementById(id);

  // -- texts ------------------------------------------------------------------------------------
  function fill(text, params) {
    return text.replace(/\{(\w+)\}/g, (whole, name) => (params && name in params ? String(params[name]) : whole));
  }
  function text(section, key, params) {
    const entry = state.messages[section] && state.messages[section][key];
    const found = entry && entry[state.language];
    return fill(found === undefined ? key : found, params);
  }
  const ui = (key, params) => text("ui", key, params);
  const indicatorName = (name) => text("indicators", name);
  const placeName = (code) => text("places", code);
  const valueName = (symbol) => text("values", symbol);
  function unitName(unit) {
    const entry = state.messages.units[unit];
    return entry ? entry[state.language] : unit; // a currency code stays a code
  }
  function locale() {
    return state.messages.languages[state.language].locale;
  }

  // -- numbers, periods, dates ------------------------------------------------------------------
  function formatNumber(value, kind, unit) {
    const n = Number(value);
    if (unit === "share") return new Intl.NumberFormat(locale(), { style: "percent", maximumFractionDigits: 1 }).format(n);
    if (kind === "amount") {
      return new Intl.NumberFormat(locale(), { minimumFractionDigits: 2, maximumFractionDigits: 2 }).format(n);
    }
    if (kind === "ratio") return new Intl.NumberFormat(locale(), { maximumFractionDigits: 4 }).format(n);
    return new Intl.NumberFormat(locale(), { maximumFractionDigits: 0 }).format(n);
  }
  function shown(figure, kind, unit) {
    if (!figure) return "-";
    if (figure.flag) return figure.flag;
    if (figure.value === null || figure.value === undefined) return "-";
    return formatNumber(figure.value, kind, unit);
  }
  function numeric(figure) {
    return figure && !figure.flag && figure.value !== null ? Number(figure.value) : null;
  }
  function kindOf(name) {
    const tile = state.doc.tiles.find((t) => t.indicator === name);
    if (tile) return tile.kind;
    return name.startsWith("donations_amount") ? "amount" : "count";
  }
  function formatMonth(value, withYear = true) {
    const [y, m] = value.split("-").map(Number);
    const parts = withYear ? { year: "numeric", month: "short" } : { month: "short" };
    return new Intl.DateTimeFormat(locale(), { ...parts, timeZone: "UTC" }).format(new Date(Date.UTC(y, m - 1, 1)));
  }
  function formatPeriod(value) {
    if (/^\d{4}$/.test(value)) return value;
    const quarter = value.match(/^(\d{4})-Q([1-4])$/);
    if (quarter) return ui("period.quarter", { year: quarter[1], quarter: quarter[2] });
    return new Intl.DateTimeFormat(locale(), { year: "numeric", month: "long", timeZone: "UTC" }).format(
      new Date(Date.UTC(Number(value.slice(0, 4)), Number(value.slice(5, 7)) - 1, 1)),
    );
  }
  function formatMoment(iso) {
    return new Intl.DateTimeFormat(locale(), { dateStyle: "medium", timeStyle: "medium", timeZone: TIME_ZONE }).format(
      new Date(iso),
    );
  }
  function periodsOf(kind, years) {
    const out = [];
    for (const y of years) {
      if (kind === "year") out.push(y);
      if (kind === "quarter") for (let q = 1; q <= 4; q++) out.push(`${y}-Q${q}`);
      if (kind === "month") for (let m = 1; m <= 12; m++) out.push(`${y}-${String(m).padStart(2, "0")}`);
    }
    return out;
  }
  function lastMonthOf(period) {
    const q = period.match(/^(\d{4})-Q([1-4])$/);
    if (q) return [q[1], 3 * Number(q[2])];
    if (/^\d{4}$/.test(period)) return [period, 12];
    return [period.slice(0, 4), Number(period.slice(5, 7))];
  }
  function periodOfKind(kind, period) {
    const [year, month] = lastMonthOf(period);
    if (kind === "year") return year;
    if (kind === "quarter") return `${year}-Q${Math.ceil(month / 3)}`;
    return `${year}-${String(month).padStart(2, "0")}`;
  }
  function currentYear() {
    return new Intl.DateTimeFormat("en", { year: "numeric", timeZone: TIME_ZONE }).format(new Date());
  }

  // -- DOM helpers ------------------------------------------------------------------------------
  function el(tag, props, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(props || {})) {
      if (k === "class") node.className = v;
      else if (k === "text") node.textContent = v;
      else if (k.startsWith("data-") || k.startsWith("aria-") || k === "scope" || k === "title") node.setAttribute(k, v);
      else node[k] = v;
    }
    for (const child of children) if (child !== null && child !== undefined) node.append(child);
    return node;
  }
  function flagRule(flag) {
    const s = state.doc.suppression;
    if (flag === s.primary_label) return ui("suppression.primary", { threshold: s.threshold });
    if (flag === s.complementary_label) return ui("suppression.complementary");
    return ui("suppression.not_applicable");
  }
  function figureCell(figure, kind, unit) {
    const cell = el("td", { class: "num", text: shown(figure, kind, unit) });
    if (figure && figure.flag) {
      cell.classList.add("withheld");
      cell.setAttribute("data-flag", figure.flag);
      cell.title = flagRule(figure.flag);
    }
    return cell;
  }
  function writeNotes(block, figures) {
    const flags = new Set(figures.filter((f) => f && f.flag).map((f) => f.flag));
    const note = document.querySelector(`[data-notes-for="${block}"]`);
    note.textContent = [...flags].map(flagRule).join(" ");
  }
  function table(id, caption, head, rows) {
    const node = $(id);
    node.replaceChildren(
      el("caption", { text: ui("table.caption", { title: caption }) }),
      el("thead", {}, el("tr", {}, ...head.map((h, i) => el("th", { scope: "col", class: i ? "num" : "", text: h })))),
      el("tbody", {}, ...rows),
    );
  }
  function show(id, visible) {
    $(id).hidden = !visible;
  }

  // -- charts -----------------------------------------------------------------------------------
  function chart(id, caption) {
    let instance = state.charts[id];
    const wantLocale = state.language.startsWith("zh") ? "ZH" : "EN";
    if (instance && instance.__hubLocale !== wantLocale) {
      instance.dispose();
      instance = null;
    }
    if (!instance) {
      instance = echarts.init($(id), null, { renderer: "svg", locale: wantLocale });
      instance.__hubLocale = wantLocale;
      state.charts[id] = instance;
    }
    $(id).setAttribute("aria-label", ui("table.caption", { title: caption }));
    return instance;
  }
  function baseOption() {
    return {
      color: PALETTE,
      aria: { enabled: true, decal: { show: true } },
      animation: false,
      textStyle: { fontFamily: getComputedStyle(document.documentElement).fontFamily },
      grid: { left: 8, right: 16, top: 36, bottom: 8, containLabel: true },
      tooltip: { trigger: "axis", confine: true },
    };
  }

  // -- rendering --------------------------------------------------------------------------------
  function applyTexts() {
    document.documentElement.lang = state.language;
    document.title = ui("app.title");
    for (const node of document.querySelectorAll("[data-i18n]")) node.textContent = ui(node.dataset.i18n);
    const box = $("languages");
    box.replaceChildren(
      ...Object.entries(state.messages.languages).map(([code, info]) =>
        el("button", {
          type: "button",
          class: "secondary",
          text: info.name,
          lang: code,
          "data-language": code,
          "aria-pressed": String(code === state.language),
          onclick: () => setLanguage(code),
        }),
      ),
    );
    const version = window.echarts ? echarts.version : "";
    $("licence").textContent = ui("footer.licence", { version });
  }

  function renderControls(doc) {
    $("zone").replaceChildren(...doc.zones.map((z) => el("option", { value: z, text: placeName(z), selected: z === state.zone })));
    $("period-kind").replaceChildren(
      ...KINDS.map((k) => el("option", { value: k, text: ui(`period_kind.${k}`), selected: k === state.kind })),
    );
    const periods = periodsOf(state.kind, doc.years.length ? doc.years : [doc.period.value.slice(0, 4)]);
    $("period").replaceChildren(
      ...periods.map((p) => el("option", { value: p, text: formatPeriod(p), selected: p === state.period })),
    );
    const groups = doc.places.regions.map((r) =>
      el(
        "optgroup",
        { label: placeName(r.region) },
        el("option", { value: `region:${r.region}`, text: placeName(r.region), selected: state.scope === `region:${r.region}` }),
        ...doc.places.districts
          .filter((d) => d.region === r.region)
          .map((d) =>
            el("option", {
              value: `district:${d.district}`,
              text: placeName(d.district),
              selected: state.scope === `district:${d.district}`,
            }),
          ),
      ),
    );
    $("scope").replaceChildren(el("option", { value: "", text: ui("scope.whole_zone"), selected: !state.scope }), ...groups);
    $("comparison-indicator").replaceChildren(
      ...doc.comparison.indicators.map((n) =>
        el("option", { value: n, text: indicatorName(n), selected: n === state.comparison }),
      ),
    );
  }

  function scopeLabel(doc) {
    const s = doc.scope;
    return s.level === "zone" ? placeName(doc.zone) : placeName(s.level === "region" ? s.region : s.district);
  }

  function renderTiles(doc) {
    $("scope-name").textContent = scopeLabel(doc);
    $("period-name").textContent = formatPeriod(doc.period.value);
    $("currency").textContent = ui("currency", { currency: doc.reporting_currency });
    const previous = doc.period.previous ? formatPeriod(doc.period.previous) : "";
    $("tiles").replaceChildren(
      ...doc.tiles.map((tile) => {
        const value = el("span", { class: "value", text: shown(tile, tile.kind, tile.unit) });
        if (tile.flag) {
          value.classList.add("withheld");
          value.setAttribute("data-flag", tile.flag);
          value.title = flagRule(tile.flag);
        }
        let change;
        if (tile.reason === null) {
          const pct = new Intl.NumberFormat(locale(), {
            style: "percent",
            maximumFractionDigits: 1,
            signDisplay: "exceptZero",
          }).format(tile.change);
          change = tile.change === 0 ? ui("tiles.no_change", { previous }) : ui("tiles.change", { change: pct, previous });
        } else if (tile.reason === "same") {
          change = ui("tiles.no_change", { previous });
        } else if (tile.reason === "withheld") {
          change = ui("tiles.not_comparable");
        } else {
          change = ui("tiles.no_previous", { previous });
        }
        return el(
          "li",
          { class: "tile", "data-indicator": tile.indicator },
          el("div", { class: "label", text: indicatorName(tile.indicator) }),
          el("div", {}, value, tile.unit === "share" ? null : el("span", { class: "unit", text: unitName(tile.unit) })),
          el("div", { class: "change", text: change }),
        );
      }),
    );
    writeNotes("tiles", doc.tiles);
  }

  function renderComparison(doc) {
    const name = state.comparison;
    const kind = kindOf(name);
    const unit = doc.tiles.find((t) => t.indicator === name).unit;
    const rows = doc.comparison.rows;
    const figures = rows.map((r) => r.figures[name]);
    const labels = rows.map((r) => placeName(r.level === "region" ? r.region : r.district));
    const caption = `${ui("comparison.heading")}: ${indicatorName(name)}`;
    chart("chart-comparison", caption).setOption(
      {
        ...baseOption(),
        xAxis: {
          type: "category",
          data: labels.map((l, i) => (figures[i] && figures[i].flag ? `${l} (${figures[i].flag})` : l)),
          axisLabel: { interval: 0, rotate: labels.length > 5 ? 40 : 0 },
        },
        yAxis: { type: "value", name: unit === "share" ? "" : unitName(unit) },
        series: [
          {
            type: "bar",
            name: indicatorName(name),
            data: figures.map((f, i) => ({
              value: numeric(f) === null ? "-" : numeric(f),
              itemStyle: rows[i].selected ? { borderColor: "#000", borderWidth: 2 } : undefined,
            })),
          },
        ],
      },
      true,
    );
    table(
      "table-comparison",
      caption,
      [ui("table.scope"), indicatorName(name)],
      rows.map((r, i) =>
        el("tr", { class: r.selected ? "selected" : "", "data-place": r.code }, el("th", { scope: "row", text: labels[i] }), figureCell(figures[i], kind, unit)),
      ),
    );
    writeNotes("comparison", figures);
  }

  function renderTrend(doc) {
    const months = doc.trend.months;
    const names = Object.keys(doc.trend.series);
    const caption = ui("trend.caption", { scope: scopeLabel(doc), year: doc.period.value.slice(0, 4) });
    chart("chart-trend", caption).setOption(
      {
        ...baseOption(),
        legend: { top: 0, type: "scroll" },
        grid: { left: 8, right: 16, top: 44, bottom: 8, containLabel: true },
        xAxis: { type: "category", data: months.map(formatMonth) },
        yAxis: [
          { type: "value", name: "" },
          { type: "value", name: doc.reporting_currency, splitLine: { show: false } },
        ],
        series: names.map((n) => ({
          type: "line",
          name: indicatorName(n),
          yAxisIndex: kindOf(n) === "amount" ? 1 : 0,
          connectNulls: false,
          symbolSize: 7,
          data: doc.trend.series[n].map((f) => (numeric(f) === null ? "-" : numeric(f))),
        })),
      },
      true,
    );
    table(
      "table-trend",
      caption,
      [ui("table.month"), ...names.map(indicatorName)],
      months.map((m, i) =>
        el(
          "tr",
          { "data-month": m },
          el("th", { scope: "row", text: formatMonth(m, false) }),
          ...names.map((n) => figureCell(doc.trend.series[n][i], kindOf(n))),
        ),
      ),
    );
    writeNotes("trend", names.flatMap((n) => doc.trend.series[n]));
  }

  function pieOption(id, caption, items) {
    const narrow = $(id).clientWidth < 480; // labels would be cut: the legend and the table carry them
    return {
      ...baseOption(),
      tooltip: { trigger: "item", confine: true },
      legend: { type: "scroll", bottom: 0 },
      series: [
        {
          type: "pie",
          name: caption,
          radius: ["35%", "65%"],
          top: 0,
          bottom: 28,
          label: { show: !narrow, formatter: "{b}: {d}%" },
          labelLine: { show: !narrow },
          data: items.filter((it) => it.value !== null && it.value > 0),
        },
      ],
    };
  }

  function renderDonors(doc) {
    const caption = ui("composition.donors", { currency: doc.reporting_currency });
    $("donors-heading").textContent = caption;
    const total = doc.donors.reduce((sum, d) => sum + (numeric(d.amount) || 0), 0);
    chart("chart-donors", caption).setOption(
      pieOption("chart-donors", caption, doc.donors.map((d) => ({ name: valueName(d.donor_type), value: numeric(d.amount) }))),
      true,
    );
    table(
      "table-donors",
      caption,
      [ui("table.indicator"), indicatorName("donations_count"), doc.reporting_currency, ui("table.share")],
      doc.donors.map((d) => {
        const amount = numeric(d.amount);
        const share = amount === null || total === 0 ? { value: null, flag: d.amount.flag || "-" } : { value: amount / total, flag: null };
        return el(
          "tr",
          { "data-donor-type": d.donor_type },
          el("th", { scope: "row", text: valueName(d.donor_type) }),
          figureCell(d.count, "count"),
          figureCell(d.amount, "amount"),
          el("td", {
            class: "num",
            text: share.flag || new Intl.NumberFormat(locale(), { style: "percent", maximumFractionDigits: 1 }).format(share.value),
          }),
        );
      }),
    );
    writeNotes("donors", doc.donors.flatMap((d) => [d.count, d.amount]));
  }

  function renderOutcomes(doc) {
    const caption = ui("composition.outcomes");
    chart("chart-outcomes", caption).setOption(
      pieOption("chart-outcomes", caption, doc.outcomes.map((o) => ({ name: valueName(o.outcome), value: numeric(o.count) }))),
      true,
    );
    table(
      "table-outcomes",
      caption,
      [ui("table.indicator"), indicatorName("evaluations")],
      doc.outcomes.map((o) =>
        el("tr", { "data-outcome": o.outcome }, el("th", { scope: "row", text: valueName(o.outcome) }), figureCell(o.count, "count")),
      ),
    );
    writeNotes("outcomes", doc.outcomes.map((o) => o.count));
  }

  function renderQuality(doc) {
    const items = doc.quality.filter((q) => q.flag || q.value);
    $("quality").replaceChildren(
      ...(items.length
        ? items.map((q) =>
            el(
              "li",
              { "data-indicator": q.indicator },
              el("strong", { text: `${indicatorName(q.indicator)}: ` }),
              el("span", { class: q.flag ? "withheld" : "", text: shown(q, "count") }),
              el("span", { class: "unit", text: ` ${unitName(q.unit)}` }),
              el("div", { class: "note", text: text("descriptions", q.indicator) }),
            ),
          )
        : [el("li", { text: ui("quality.none") })]),
    );
  }

  function renderNotes(doc) {
    const rates = doc.fx.rates;
    $("fx").replaceChildren(
      ...(rates.length
        ? rates.map((r) =>
            el("li", {
              text:
                ui("fx.line", { currency: r.currency, rate: r.rate, to: r.to }) +
                (r.valid_from ? `, ${ui("fx.valid_from", { date: r.valid_from })}` : ""),
            }),
          )
        : [el("li", { text: ui("fx.none", { currency: doc.reporting_currency }) })]),
    );
    $("fx-source").textContent = doc.fx.source ? ui("fx.source", { source: doc.fx.source }) : "";
    const s = doc.suppression;
    $("suppression-rules").replaceChildren(
      ...(s.applied
        ? [
            el("li", { text: ui("suppression.primary", { threshold: s.threshold }) }),
            el("li", { text: ui("suppression.complementary") }),
            el("li", { text: ui("suppression.not_applicable") }),
          ]
        : [el("li", { class: "error", text: ui("suppression.unsuppressed") })]),
    );
    const f = doc.freshness;
    let line;
    if (f.offsets_behind === null) line = ui("freshness.unknown");
    else if (f.offsets_behind === 0) line = ui("freshness.caught_up");
    else
      line = ui("freshness.behind", {
        records: formatNumber(f.offsets_behind, "count"),
        seconds: f.seconds_behind === null ? "?" : formatNumber(f.seconds_behind, "count"),
      });
    $("freshness").textContent = line;
    $("as-of").textContent = f.as_of ? ui("freshness.as_of", { time: formatMoment(f.as_of) }) : "";
    const caveats = doc.caveats.map((c) => {
      const list = new Intl.ListFormat(locale(), { type: "conjunction" }).format(c.districts.map(placeName));
      return el("li", { text: ui(`caveat.${c.key}`, { districts: list }) });
    });
    $("caveats").replaceChildren(...caveats);
    show("caveats-section", caveats.length > 0);
  }

  function render() {
    const doc = state.doc;
    if (!doc) return;
    renderControls(doc);
    renderTiles(doc);
    renderComparison(doc);
    renderTrend(doc);
    renderDonors(doc);
    renderOutcomes(doc);
    renderQuality(doc);
    renderNotes(doc);
  }

  // -- the API ----------------------------------------------------------------------------------
  function scopeParams(params) {
    const [level, code] = state.scope.split(":");
    if (level === "region") params.set("region", code);
    if (level === "district") params.set("district", code);
    return params;
  }
  async function call(path, params) {
    const token = sessionStorage.getItem(TOKEN_KEY);
    const response = await fetch(`${path}?${params}`, {
      headers: { Authorization: `Bearer ${token}` },
      cache: "no-store",
      credentials: "omit",
    });
    if (response.ok) return response;
    let message = response.statusText;
    try {
      message = (await response.json()).error.message;
    } catch (_) {
      /* not the hub's error shape */
    }
    const error = new Error(message);
    error.status = response.status;
    throw error;
  }
  function setStatus(message, isError) {
    const status = $("status");
    status.textContent = message;
    status.classList.toggle("error", Boolean(isError));
  }

  async function load() {
    const ticket = ++state.loading;
    setStatus(ui("status.loading"));
    const period = state.period || currentYear();
    try {
      const response = await call(`/v1/dashboard/${encodeURIComponent(state.zone)}`, scopeParams(new URLSearchParams({ period })));
      const doc = await response.json();
      if (ticket !== state.loading) return; // a newer choice is on its way
      if (!state.period && doc.years.length && !doc.years.includes(period)) {
        state.period = doc.years[doc.years.length - 1];
        return load();
      }
      state.period = doc.period.value;
      state.doc = doc;
      showBoard();
      render();
      setStatus("");
      document.body.dataset.loaded = `${doc.zone}/${doc.period.value}/${state.scope || "*"}/${state.language}`;
    } catch (error) {
      if (ticket !== state.loading) return;
      if (error.status === 401 || error.status === 403) {
        const reason = error.status === 401 ? ui("login.unknown_token") : ui("login.forbidden");
        signOut(ui("login.failed", { reason }));
      } else if (error.status === 429) {
        setStatus(ui("login.rate_limited"), true);
      } else {
        setStatus(ui("status.error", { message: error.message }), true);
      }
    }
  }

  async function download(format) {
    const params = scopeParams(new URLSearchParams({ period: state.period, format }));
    try {
      const response = await call(`/v1/reports/${encodeURIComponent(state.zone)}`, params);
      const blob = await response.blob();
      const disposition = response.headers.get("Content-Disposition") || "";
      const match = disposition.match(/filename="([^"]+)"/);
      const suffix = format === "metadata" ? "metadata.json" : format;
      const link = el("a", { href: URL.createObjectURL(blob), download: match ? match[1] : `${state.zone}-${state.period}.${suffix}` });
      document.body.append(link);
      link.click();
      link.remove();
      setTimeout(() => URL.revokeObjectURL(link.href), 10000);
    } catch (error) {
      setStatus(ui("status.error", { message: error.message }), true);
    }
  }

  // -- screens ----------------------------------------------------------------------------------
  function showBoard() {
    show("login", false);
    show("board", true);
    show("logout", true);
  }
  function signOut(message) {
    sessionStorage.removeItem(TOKEN_KEY);
    state.doc = null;
    show("board", false);
    show("logout", false);
    show("login", true);
    const error = $("login-error");
    error.textContent = message || "";
    error.hidden = !message;
    $("token").focus();
  }
  function setLanguage(code) {
    state.language = code;
    sessionStorage.setItem(LANGUAGE_KEY, code);
    applyTexts();
    render();
    if (state.doc) document.body.dataset.loaded = `${state.doc.zone}/${state.doc.period.value}/${state.scope || "*"}/${code}`;
  }
  function chooseLanguage() {
    const saved = sessionStorage.getItem(LANGUAGE_KEY);
    const known = Object.keys(state.messages.languages);
    if (saved && known.includes(saved)) return saved;
    for (const wanted of navigator.languages || []) {
      const w = wanted.toLowerCase();
      if (w === "zh-tw" || w === "zh-hk" || w === "zh-mo" || w.startsWith("zh-hant")) return "zh-Hant";
      if (w.startsWith("zh")) return "zh-Hans";
      if (w.startsWith("en")) return "en";
    }
    return state.messages.default;
  }

  function wire() {
    $("login-form").addEventListener("submit", (event) => {
      event.preventDefault();
      const token = $("token").value.trim();
      $("token").value = "";
      if (!token) return;
      sessionStorage.setItem(TOKEN_KEY, token);
      $("login-error").hidden = true;
      load();
    });
    $("logout").addEventListener("click", () => signOut(""));
    $("zone").addEventListener("change", (e) => {
      state.zone = e.target.value;
      state.scope = "";
      load();
    });
    $("period-kind").addEventListener("change", (e) => {
      state.kind = e.target.value;
      state.period = periodOfKind(state.kind, state.period);
      load();
    });
    $("period").addEventListener("change", (e) => {
      state.period = e.target.value;
      load();
    });
    $("scope").addEventListener("change", (e) => {
      state.scope = e.target.value;
      load();
    });
    $("comparison-indicator").addEventListener("change", (e) => {
      state.comparison = e.target.value;
      renderComparison(state.doc);
    });
    for (const button of document.querySelectorAll("[data-format]")) {
      button.addEventListener("click", () => download(button.dataset.format));
    }
    let pending = null;
    window.addEventListener("resize", () => {
      clearTimeout(pending);
      pending = setTimeout(() => Object.values(state.charts).forEach((c) => c.resize()), 100);
    });
  }

  async function start() {
    const response = await fetch("/dashboard/messages.json", { cache: "no-store" });
    state.messages = await response.json();
    state.language = chooseLanguage();
    applyTexts();
    wire();
    if (sessionStorage.getItem(TOKEN_KEY)) load();
    else signOut("");
  }

  document.addEventListener("DOMContentLoaded", () => {
    start().catch((error) => {
      document.body.prepend(el("p", { class: "error", role: "alert", text: `dashboard: ${error.message}` }));
    });
  });
})();
