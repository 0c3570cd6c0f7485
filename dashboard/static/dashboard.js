// The dashboard's pages: cards, tables and Plotly charts drawn from the page's
// data (the replica's rows, embedded as JSON by the server). Text from the data
// is only ever set with textContent, never as HTML; Plotly, which reads tags in
// its text (<a href>, <b>, <br>), gets every string of its traces escaped, in draw().
(function () {
  "use strict";

  // Pickers: a change of user, period or year shows it.
  document.querySelectorAll("select[data-autosubmit]").forEach(function (select) {
    select.addEventListener("change", function () {
      if (select.dataset.path) {
        window.location.assign(select.dataset.path + "/" + encodeURIComponent(select.value));
      } else {
        select.form.submit();
      }
    });
  });

  var dataEl = document.getElementById("page-data");
  if (!dataEl) { return; }
  var data = JSON.parse(dataEl.textContent);
  var meta = JSON.parse(document.getElementById("page-meta").textContent);
  var tz = meta.timezone;
  var page = document.body.dataset.page;

  // -- formatting ---------------------------------------------------------------
  var intFormat = new Intl.NumberFormat("en");
  var oneDecimal = new Intl.NumberFormat("en", { maximumFractionDigits: 1, minimumFractionDigits: 1 });
  var DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"];
  var DAYS_SHORT = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
  var MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
  function int(n) { return n === null || n === undefined ? "—" : intFormat.format(n); }
  function hours(ms) { return oneDecimal.format(ms / 3600000) + " h"; }
  function minutes(ms) { return intFormat.format(Math.round(ms / 60000)) + " min"; }
  function pct(share) { return share === null || share === undefined ? "—" : oneDecimal.format(share * 100) + " %"; }
  function hourLabel(h) { return (h < 10 ? "0" : "") + h + ":00"; }
  function monthLabel(period) { return MONTHS[Number(period.slice(5, 7)) - 1] + " " + period.slice(0, 4); }
  function localTime(iso) {
    if (!iso) { return "—"; }
    return new Intl.DateTimeFormat("en-GB", {
      timeZone: tz, year: "numeric", month: "short", day: "numeric", hour: "2-digit", minute: "2-digit",
    }).format(new Date(iso));
  }
  // How long ago, in words, by this browser's clock (presentation only: the statistics carry computed_at).
  function ago(iso, now) {
    var mins = Math.floor((now - new Date(iso).getTime()) / 60000);
    if (!(mins >= 1)) { return "just now"; }
    if (mins < 60) { return mins + " min ago"; }
    var hrs = Math.floor(mins / 60);
    if (hrs < 48) { return hrs + " h ago"; }
    return intFormat.format(Math.floor(hrs / 24)) + " days ago";
  }
  function longDate(isoDate) {
    return new Intl.DateTimeFormat("en-GB", {
      timeZone: "UTC", weekday: "short", year: "numeric", month: "short", day: "numeric",
    }).format(new Date(isoDate + "T00:00:00Z"));
  }

  // -- DOM helpers ---------------------------------------------------------------
  function byId(id) { return document.getElementById(id); }
  function make(tag, attrs, text) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (key) { node.setAttribute(key, attrs[key]); });
    if (text !== undefined && text !== null) { node.textContent = String(text); }
    return node;
  }
  function cards(id, items) {
    var box = byId(id);
    if (!box) { return; }
    items.forEach(function (item) {
      var card = make("div", { "class": "card" });
      card.appendChild(make("div", { "class": "value" }, item[1]));
      card.appendChild(make("div", { "class": "label" }, item[0]));
      box.appendChild(card);
    });
  }
  function initials(name) {
    return (name || "?").split(/\s+/).slice(0, 2).map(function (w) { return w.charAt(0); }).join("").toUpperCase();
  }
  function placeholder(name) { return make("span", { "class": "thumb placeholder", "aria-hidden": "true" }, initials(name)); }
  // Album art and artist photos are external URLs: shown as <img> with alt text,
  // replaced by initials when they cannot load (offline, or no image known).
  function thumb(url, alt, name) {
    if (!url) { return placeholder(name); }
    var img = make("img", { "class": "thumb", src: url, alt: alt, loading: "lazy", referrerpolicy: "no-referrer",
                            width: "40", height: "40" });
    img.addEventListener("error", function () { img.replaceWith(placeholder(name)); });
    return img;
  }
  // An artist's, album's or track's page, for the page's period.
  function entityUrl(kinds, id) {
    return meta.entity_urls[kinds].replace("ENTITY_ID", encodeURIComponent(id)) +
      (meta.period && meta.period !== "all" ? "?period=" + encodeURIComponent(meta.period) : "");
  }
  function emptyNote(id, text) {
    var box = byId(id);
    if (box) { box.classList.remove("chart"); box.appendChild(make("p", { "class": "note empty" }, text)); }
  }

  // -- charts ----------------------------------------------------------------------
  var CONFIG = { displaylogo: false, responsive: true, displayModeBar: false };
  var GREEN = "#1db954", DARK = "#191414", GREY = "#9aa09a";
  // Plotly renders a subset of HTML in labels, hover texts and categories, and
  // shows &lt; &gt; &amp; as the characters: names reach it escaped, as text.
  var PLOTLY_TEXT = ["x", "y", "text", "hovertext", "labels", "name"];
  function escapeHtml(value) {
    return typeof value !== "string" ? value :
      value.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
  }
  function asText(trace) {
    var safe = Object.assign({}, trace);
    PLOTLY_TEXT.forEach(function (key) {
      if (key in safe) { safe[key] = Array.isArray(safe[key]) ? safe[key].map(escapeHtml) : escapeHtml(safe[key]); }
    });
    return safe;
  }
  function draw(id, traces, layout) {
    var box = byId(id);
    if (!box) { return; }
    traces = traces.map(asText);
    var base = {
      height: 280, margin: { l: 60, r: 20, t: 10, b: 50 }, paper_bgcolor: "rgba(0,0,0,0)",
      plot_bgcolor: "rgba(0,0,0,0)", font: { family: "system-ui, sans-serif", size: 12 },
      showlegend: false, bargap: 0.15,
    };
    Plotly.newPlot(box, traces, Object.assign(base, layout || {}), CONFIG);
    // Bars that name an item carry its page's URL as customdata: a click opens it.
    if (traces.some(function (t) { return t.customdata; })) {
      box.classList.add("linked");
      box.on("plotly_click", function (event) {
        var url = event.points[0].customdata;
        if (url) { window.location.assign(url); }
      });
    }
  }
  function axis(title, extra) { return Object.assign({ title: { text: title }, automargin: true }, extra || {}); }
  function hbar(id, rows, label, valueKey, valueTitle, hover, url) {
    if (!rows.length) { emptyNote(id, "Nothing known for these streams (exports without album or artist details)."); return; }
    var top = rows.slice(0, 10).reverse();
    draw(id, [{
      type: "bar", orientation: "h", marker: { color: GREEN },
      y: top.map(function (r) { return label(r); }), x: top.map(function (r) { return r[valueKey]; }),
      hovertext: top.map(hover), hoverinfo: "text", customdata: top.map(url),
    }], { height: Math.max(220, 30 * top.length + 60), xaxis: axis(valueTitle), yaxis: { automargin: true } });
  }

  // columns: [title, value(row), numeric]; the first one, the item's name, links to its page `url(row)`.
  function topTable(id, rows, columns, url) {
    var box = byId(id);
    if (!box || !rows.length) { return; }
    function table(part) {
      var t = make("table", { "class": "data" });
      var head = t.createTHead().insertRow();
      ["#", ""].concat(columns.map(function (c) { return c[0]; })).forEach(function (title, i) {
        var th = make("th", { scope: "col", "class": i > 1 && columns[i - 2][2] ? "num" : "" }, title);
        head.appendChild(th);
      });
      var body = t.createTBody();
      part.forEach(function (r) {
        var tr = body.insertRow();
        tr.appendChild(make("td", { "class": "num" }, r.rank));
        var cell = make("td");
        cell.appendChild(thumb(r.image_url, r.image_alt, r.name));
        tr.appendChild(cell);
        columns.forEach(function (c, i) {
          var td = make("td", { "class": c[2] ? "num" : "" }, i === 0 ? undefined : c[1](r));
          if (i === 0) { td.appendChild(url ? make("a", { href: url(r) }, c[1](r)) : make("span", {}, c[1](r))); }
          tr.appendChild(td);
        });
      });
      return t;
    }
    box.appendChild(table(rows.slice(0, 10)));
    if (rows.length > 10) {
      var more = make("details");
      more.appendChild(make("summary", {}, "All " + rows.length));
      more.appendChild(table(rows.slice(10)));
      box.appendChild(more);
    }
  }

  // -- panels ----------------------------------------------------------------------
  var o = data.overview;
  var freshness = byId("freshness");
  function showFreshness() {
    freshness.textContent = "Updated " + ago(o.computed_at, Date.now()) + ": computed " +
      localTime(o.computed_at) + " from plays up to " + localTime(o.source_max_played_at) + ".";
  }
  if (freshness && o) {
    showFreshness();
    // The age again when the tab is shown again (not on a timer: #freshness is a live region).
    document.addEventListener("visibilitychange", function () {
      if (document.visibilityState === "visible") { showFreshness(); }
    });
  }

  function drawOverviewCards() {
    cards("cards-overview", [
      ["Streams", int(o.streams)],
      ["Listening time", hours(o.listening_ms)],
      ["Distinct tracks", int(o.distinct_tracks)],
      ["Distinct artists", int(o.distinct_artists)],
      ["Distinct albums", int(o.distinct_albums)],
      ["Active days", int(o.active_days)],
      // null in a row published before the analytics computed it
      ["Longest streak", o.longest_streak === null || o.longest_streak === undefined ? "—" :
        int(o.longest_streak) + (o.longest_streak === 1 ? " day" : " days")],
      ["Streams per active day", oneDecimal.format(o.streams_per_active_day)],
      ["Skip rate", pct(o.skip_rate)],
      ["Mainstream score (0-100)", o.mainstream_score === null ? "unknown" : oneDecimal.format(o.mainstream_score)],
      ["First stream", localTime(o.first_played_at)],
      ["Last stream", localTime(o.last_played_at)],
    ]);
  }

  function drawMonths() {
    var rows = data.months;
    if (!rows.length) { emptyNote("chart-months", "No month with streams."); return; }
    draw("chart-months", [
      { type: "bar", name: "Streams", marker: { color: GREEN }, x: rows.map(function (r) { return monthLabel(r.period); }),
        y: rows.map(function (r) { return r.streams; }) },
      { type: "scatter", mode: "lines+markers", name: "Listening time (hours)", yaxis: "y2", line: { color: DARK },
        x: rows.map(function (r) { return monthLabel(r.period); }),
        y: rows.map(function (r) { return Math.round(r.listening_ms / 36000) / 100; }) },
    ], { showlegend: true, legend: { orientation: "h", y: -0.25 }, yaxis: axis("Streams"),
         yaxis2: axis("Listening time (hours)", { overlaying: "y", side: "right", rangemode: "tozero" }),
         xaxis: { type: "category", automargin: true } });
  }

  function trackUrl(r) { return entityUrl("tracks", r.track_id); }
  function artistUrl(r) { return entityUrl("artists", r.artist_id); }
  function albumUrl(r) { return entityUrl("albums", r.album_id); }

  function drawTops() {
    var tracks = data.top_tracks.map(function (r) {
      return Object.assign({ image_alt: "Cover of " + (r.album || r.name) }, r);
    });
    hbar("chart-top_tracks", tracks, function (r) { return r.rank + ". " + r.name; }, "streams", "Streams",
      function (r) { return r.name + " — " + (r.artist || "unknown artist") + ": " + int(r.streams) + " streams, " + minutes(r.listening_ms); },
      trackUrl);
    topTable("table-top_tracks", tracks, [
      ["Track", function (r) { return r.name; }], ["Artist", function (r) { return r.artist || "unknown"; }],
      ["Streams", function (r) { return int(r.streams); }, true], ["Listening", function (r) { return minutes(r.listening_ms); }, true],
    ], trackUrl);
    var artists = data.top_artists.map(function (r) { return Object.assign({ image_alt: "Photo of " + r.name }, r); });
    hbar("chart-top_artists", artists, function (r) { return r.rank + ". " + r.name; }, "streams", "Streams",
      function (r) { return r.name + ": " + int(r.streams) + " streams, " + minutes(r.listening_ms); }, artistUrl);
    topTable("table-top_artists", artists, [
      ["Artist", function (r) { return r.name; }], ["Genres", function (r) { return (r.genres || []).slice(0, 3).join(", ") || "—"; }],
      ["Streams", function (r) { return int(r.streams); }, true], ["Listening", function (r) { return minutes(r.listening_ms); }, true],
    ], artistUrl);
    var albums = data.top_albums.map(function (r) { return Object.assign({ image_alt: "Cover of " + r.name }, r); });
    hbar("chart-top_albums", albums, function (r) { return r.rank + ". " + r.name; }, "streams", "Streams",
      function (r) { return r.name + " — " + (r.artist || "unknown artist") + ": " + int(r.streams) + " streams"; },
      albumUrl);
    topTable("table-top_albums", albums, [
      ["Album", function (r) { return r.name; }], ["Artist", function (r) { return r.artist || "unknown"; }],
      ["Year", function (r) { return r.release_year || "—"; }, true],
      ["Streams", function (r) { return int(r.streams); }, true], ["Listening", function (r) { return minutes(r.listening_ms); }, true],
    ], albumUrl);
  }

  // Podcasts: listens of 30 s or more, ranked by listening time (no pages of their own: not linked).
  function drawPodcasts() {
    cards("cards-podcasts", [["Podcast listens", int(o.podcast_listens || 0)],
                             ["Podcast time", hours(o.podcast_listening_ms || 0)]]);
    if (!data.top_shows.length) { emptyNote("table-top_shows", "No podcast listened to in this period."); return; }
    topTable("table-top_shows", data.top_shows, [
      ["Show", function (r) { return r.name; }], ["Episodes", function (r) { return int(r.episodes); }, true],
      ["Listens", function (r) { return int(r.listens); }, true], ["Listening", function (r) { return minutes(r.listening_ms); }, true],
    ], null);
    topTable("table-top_episodes", data.top_episodes, [
      ["Episode", function (r) { return r.name; }], ["Show", function (r) { return r.show || "unknown"; }],
      ["Listens", function (r) { return int(r.listens); }, true], ["Listening", function (r) { return minutes(r.listening_ms); }, true],
    ], null);
  }

  function drawGenres(limit) {
    var known = data.genre_distribution.filter(function (r) { return r.genre !== "unknown"; }).slice(0, limit);
    var unknown = data.genre_distribution.filter(function (r) { return r.genre === "unknown"; })[0];
    var note = byId("note-genre_distribution");
    if (note && unknown) {
      note.textContent = "Streams whose artist has no known genre: " + int(unknown.streams) + " (" + pct(unknown.share) + " of all streams).";
    }
    if (!known.length) { emptyNote("chart-genre_distribution", "No genre known for these streams."); return; }
    var rows = known.slice().reverse();
    draw("chart-genre_distribution", [{
      type: "bar", orientation: "h", marker: { color: GREEN },
      y: rows.map(function (r) { return r.genre; }), x: rows.map(function (r) { return r.share * 100; }),
      hovertext: rows.map(function (r) { return r.genre + ": " + int(r.streams) + " streams, " + pct(r.share); }), hoverinfo: "text",
    }], { height: Math.max(220, 24 * rows.length + 60), xaxis: axis("Share of streams with a known genre (%)"), yaxis: { automargin: true } });
  }

  // Streams per local hour and per weekday, as bars: the overview's hour_of_day and day_of_week rows, and an
  // artist's hour_streams and weekday_streams (rows {hour, streams} and {day_of_week, streams}, in key order).
  function hourBars(id, rows, hover) {
    draw(id, [{
      type: "bar", marker: { color: GREEN }, x: rows.map(function (r) { return hourLabel(r.hour); }),
      y: rows.map(function (r) { return r.streams; }), hovertext: rows.map(hover), hoverinfo: "text",
    }], { xaxis: axis("Local hour (" + tz + ")", { type: "category" }), yaxis: axis("Streams") });
  }
  function dayName(r) { return DAYS[r.day_of_week - 1]; }
  // `more`: traces drawn over the bars, with the `layout` they need.
  function dayBars(id, rows, more, layout) {
    draw(id, [
      { type: "bar", name: "Streams", marker: { color: GREEN }, x: rows.map(dayName), y: rows.map(function (r) { return r.streams; }) },
    ].concat(more || []), Object.assign({ xaxis: { type: "category" }, yaxis: axis("Streams") }, layout || {}));
  }

  function drawHours() {
    hourBars("chart-hour_of_day", data.hour_of_day, function (r) {
      return hourLabel(r.hour) + ": " + int(r.streams) + " streams, " + minutes(r.listening_ms) + ", " + pct(r.share);
    });
  }

  function drawDays() {
    var rows = data.day_of_week;
    dayBars("chart-day_of_week", rows, [
      { type: "scatter", mode: "lines+markers", name: "Track variety (%)", yaxis: "y2", line: { color: DARK },
        x: rows.map(dayName), y: rows.map(function (r) { return r.track_variety * 100; }) },
    ], { showlegend: true, legend: { orientation: "h", y: -0.3 },
         yaxis2: axis("Distinct tracks per stream (%)", { overlaying: "y", side: "right", rangemode: "tozero" }) });
  }

  // An artist's page: its hour-of-day and weekday profile, the stored arrays as they are (hour 0..23, ISO
  // weekday Monday first); the page holds a chart only for an array the replica has (not NULL).
  function drawProfile() {
    if (byId("chart-hour_streams")) {
      hourBars("chart-hour_streams", data.hour_streams.map(function (s, h) { return { hour: h, streams: s }; }),
        function (r) { return hourLabel(r.hour) + ": " + int(r.streams) + " streams"; });
    }
    if (byId("chart-weekday_streams")) {
      dayBars("chart-weekday_streams", data.weekday_streams.map(function (s, d) { return { day_of_week: d + 1, streams: s }; }));
    }
  }

  function drawClock() {
    var z = DAYS.map(function () { return new Array(24).fill(0); });
    data.listening_clock.forEach(function (r) { z[r.day_of_week - 1][r.hour] = r.streams; });
    var hoursAxis = [];
    for (var h = 0; h < 24; h++) { hoursAxis.push(hourLabel(h)); }
    draw("chart-listening_clock", [{
      type: "heatmap", z: z, x: hoursAxis, y: DAYS_SHORT, colorscale: [[0, "#f4f6f4"], [1, GREEN]],
      hovertemplate: "%{y} %{x}: %{z} streams<extra></extra>", colorbar: { title: { text: "Streams" } },
    }], { height: 300, xaxis: axis("Local hour (" + tz + ")", { type: "category" }),
         yaxis: { autorange: "reversed", type: "category", automargin: true } });
  }

  function drawSessions() {
    var s = data.session_summary;
    if (s) {
      cards("cards-session_summary", [
        ["Sessions", int(s.sessions)],
        ["Average session", minutes(s.avg_session_ms)],
        ["Longest session", hours(s.longest_session_ms)],
        ["Streams per session", oneDecimal.format(s.avg_streams_per_session)],
      ]);
    }
    var labels = ["< 15 min", "15–30 min", "30–60 min", "1–2 h", "2–4 h", "4 h or more"];
    draw("chart-session_lengths", [{
      type: "bar", marker: { color: GREEN }, x: data.session_lengths.map(function (r) { return labels[r.bucket]; }),
      y: data.session_lengths.map(function (r) { return r.sessions; }),
    }], { xaxis: axis("Session length", { type: "category" }), yaxis: axis("Sessions starting in the period") });
    var gapLabels = { continuous: "Continuous (< 5 min)", short_break: "Short break (5–60 min)", long_break: "Long break (≥ 60 min)" };
    draw("chart-play_gaps", [{
      type: "bar", marker: { color: DARK }, x: data.play_gaps.map(function (r) { return gapLabels[r.gap_class]; }),
      y: data.play_gaps.map(function (r) { return r.gaps; }),
      hovertext: data.play_gaps.map(function (r) { return int(r.gaps) + " gaps, " + pct(r.share); }), hoverinfo: "text",
    }], { xaxis: axis("Gap to the next stream", { type: "category" }), yaxis: axis("Gaps") });
  }

  function drawStreaks() {
    var rows = data.artist_streaks;
    if (!rows.length) { emptyNote("chart-artist_streaks", "No streak of 2 days or more in this period."); return; }
    var top = rows.slice().reverse();
    draw("chart-artist_streaks", [{
      type: "bar", orientation: "h", marker: { color: GREEN },
      y: top.map(function (r) { return r.rank + ". " + r.name; }), x: top.map(function (r) { return r.days; }),
      hovertext: top.map(function (r) { return r.name + ": " + r.days + " days, " + longDate(r.streak_start) + " – " + longDate(r.streak_end); }),
      hoverinfo: "text", customdata: top.map(artistUrl),
    }], { height: Math.max(220, 30 * top.length + 60), xaxis: axis("Consecutive days"), yaxis: { automargin: true } });
  }

  function drawAlbums() {
    var names = { complete: "Complete", most: "Most (≥ 75 %)", half: "Half (≥ 50 %)", partial: "Partial" };
    cards("cards-album_status", data.album_status.map(function (r) { return [names[r.status] + " albums", int(r.albums)]; }));
    var rows = data.album_completion;
    if (!rows.length) { emptyNote("chart-album_completion", "No album of 5 tracks or more streamed in this period."); return; }
    var top = rows.slice(0, 15).reverse();
    draw("chart-album_completion", [{
      type: "bar", orientation: "h",
      marker: { color: top.map(function (r) { return r.status === "complete" ? GREEN : r.status === "partial" ? GREY : "#6fcf97"; }) },
      y: top.map(function (r) { return r.rank + ". " + r.name; }), x: top.map(function (r) { return r.completion * 100; }),
      hovertext: top.map(function (r) { return r.name + " — " + (r.artist || "unknown") + ": " + r.tracks_played + " of " + r.total_tracks + " tracks, " + int(r.streams) + " streams"; }),
      hoverinfo: "text", customdata: top.map(albumUrl),
    }], { height: Math.max(220, 26 * top.length + 60), xaxis: axis("Tracks of the album streamed (%)", { range: [0, 100] }), yaxis: { automargin: true } });
  }

  // Playlists followed (playlist_completion): the period's first by rank, each linking to its page.
  function drawPlaylists() {
    var rows = data.playlist_completion;
    if (!rows.length) { emptyNote("table-playlist_completion", "No playlist you follow was streamed in this period."); return; }
    topTable("table-playlist_completion", rows.map(function (r) { return Object.assign({ image_alt: "" }, r); }), [
      ["Playlist", function (r) { return r.name; }],
      ["Heard", function (r) { return int(r.tracks_played) + " of " + int(r.total_tracks); }, true],
      ["Completion", function (r) { return pct(r.completion); }, true],
      ["Streams", function (r) { return int(r.streams); }, true],
      ["From it", function (r) { return int(r.context_streams); }, true],
    ], function (r) { return entityUrl("playlists", r.playlist_id); });
  }

  function drawPopularity() {
    cards("cards-popularity", [
      ["Mainstream score (0-100)", o.mainstream_score === null ? "unknown" : oneDecimal.format(o.mainstream_score)],
    ]);
    var rows = data.popularity_distribution;
    function label(b) { return b === "unknown" ? "Unknown" : b === "9" ? "90–100" : (b * 10) + "–" + (b * 10 + 9); }
    draw("chart-popularity_distribution", [{
      type: "bar", x: rows.map(function (r) { return label(r.bracket); }), y: rows.map(function (r) { return r.streams; }),
      marker: { color: rows.map(function (r) { return r.bracket === "unknown" ? GREY : GREEN; }) },
      hovertext: rows.map(function (r) { return int(r.streams) + " streams of " + int(r.distinct_tracks) + " tracks, " + pct(r.share); }),
      hoverinfo: "text",
    }], { xaxis: axis("Track popularity", { type: "category" }), yaxis: axis("Streams") });
  }

  function donut(id, rows, key, labels) {
    draw(id, [{
      type: "pie", hole: 0.5, sort: false, labels: rows.map(function (r) { return labels[r[key]]; }),
      values: rows.map(function (r) { return r.streams; }), textinfo: "label+percent",
      marker: { colors: rows.map(function (r) { return r[key] === "unknown" ? GREY : undefined; }) },
    }], { height: 280, margin: { l: 20, r: 20, t: 10, b: 10 } });
  }

  function drawPreferences() {
    donut("chart-duration_preference", data.duration_preference, "duration_class",
      { short: "Short (< 3 min)", medium: "Medium (3–5 min)", long: "Long (≥ 5 min)", unknown: "Unknown" });
    donut("chart-explicit_preference", data.explicit_preference, "explicit",
      { "true": "Explicit", "false": "Not explicit", unknown: "Unknown" });
    var years = data.release_years;
    if (!years.length) { emptyNote("chart-release_years", "No release date known for these streams."); } else {
      draw("chart-release_years", [{
        type: "bar", marker: { color: GREEN }, x: years.map(function (r) { return r.release_year; }),
        y: years.map(function (r) { return r.streams; }),
        hovertext: years.map(function (r) { return r.release_year + ": " + int(r.streams) + " streams, " + int(r.distinct_albums) + " albums"; }),
        hoverinfo: "text",
      }], { xaxis: axis("Release year"), yaxis: axis("Streams") });
    }
    var days = data.longest_days;
    draw("chart-longest_days", [{
      type: "bar", marker: { color: DARK }, x: days.map(function (r) { return longDate(r.local_date); }),
      y: days.map(function (r) { return r.listening_ms / 3600000; }),
      hovertext: days.map(function (r) { return longDate(r.local_date) + ": " + hours(r.listening_ms) + ", " + int(r.streams) + " streams"; }),
      hoverinfo: "text",
    }], { xaxis: { type: "category", automargin: true }, yaxis: axis("Listening time (hours)") });
  }

  function drawSkips() {
    cards("cards-skips", [["Skip rate", o.skip_rate === null ? "unknown" : pct(o.skip_rate)]]);
    var rows = (data.months || []).filter(function (r) { return r.skip_rate !== null; });
    if (byId("chart-skips")) {
      if (!rows.length) { emptyNote("chart-skips", "No skip information in this period."); return; }
      draw("chart-skips", [{
        type: "scatter", mode: "lines+markers", line: { color: DARK }, x: rows.map(function (r) { return monthLabel(r.period); }),
        y: rows.map(function (r) { return r.skip_rate * 100; }),
      }], { xaxis: { type: "category", automargin: true }, yaxis: axis("Skip rate (%)", { rangemode: "tozero" }) });
    }
  }

  function drawDiscoveries() {
    cards("cards-discoveries", [["New artists", int(o.new_artists)], ["New tracks", int(o.new_tracks)]]);
    var rows = data.months || [];
    if (byId("chart-discoveries") && rows.length) {
      draw("chart-discoveries", [
        { type: "bar", name: "New artists", marker: { color: GREEN }, x: rows.map(function (r) { return monthLabel(r.period); }),
          y: rows.map(function (r) { return r.new_artists; }) },
        { type: "bar", name: "New tracks", marker: { color: DARK }, x: rows.map(function (r) { return monthLabel(r.period); }),
          y: rows.map(function (r) { return r.new_tracks; }) },
      ], { barmode: "group", showlegend: true, legend: { orientation: "h", y: -0.25 }, xaxis: { type: "category", automargin: true },
           yaxis: axis("First-ever streams") });
    }
  }

  // -- Wrapped --------------------------------------------------------------------
  function drawWrapped() {
    var hero = byId("wrapped-minutes");
    hero.appendChild(make("span", {}, "In " + meta.period + " you listened for"));
    hero.appendChild(make("span", { "class": "big" }, intFormat.format(Math.round(o.listening_ms / 60000)) + " minutes"));
    hero.appendChild(make("span", {}, int(o.streams) + " streams of " + int(o.distinct_tracks) + " tracks by " +
      int(o.distinct_artists) + " artists, on " + int(o.active_days) + " days."));

    var artist = data.top_artists[0];
    var box = byId("top-artist");
    if (artist) {
      var wrap = make("div", { "class": "top-artist" });
      wrap.appendChild(thumb(artist.image_url, "Photo of " + artist.name, artist.name));
      var text = make("div");
      text.appendChild(make("div", { "class": "name" }, artist.name));
      text.appendChild(make("div", {}, int(artist.streams) + " streams, " + hours(artist.listening_ms)));
      wrap.appendChild(text);
      box.appendChild(wrap);
    }
    [["top-tracks-list", data.top_tracks, function (r) { return r.name + " — " + (r.artist || "unknown artist"); }],
     ["top-artists-list", data.top_artists, function (r) { return r.name; }]].forEach(function (list) {
      list[1].slice(0, 5).forEach(function (r) {
        byId(list[0]).appendChild(make("li", {}, list[2](r) + " (" + int(r.streams) + " streams)"));
      });
    });

    var show = data.top_shows[0], podcast = byId("top-podcast");
    if (show) {
      podcast.appendChild(make("div", { "class": "name" }, show.name));
      podcast.appendChild(make("div", {}, int(show.episodes) + (show.episodes === 1 ? " episode, " : " episodes, ") +
        hours(show.listening_ms) + "; podcasts in all: " + hours(o.podcast_listening_ms)));
    } else {
      podcast.appendChild(make("p", { "class": "note empty" }, "No podcast this year."));
    }

    var highlights = [];
    var peak = data.listening_clock.reduce(function (best, r) { return !best || r.streams > best.streams ? r : best; }, null);
    if (peak && peak.streams > 0) { highlights.push(["Your peak hour", DAYS[peak.day_of_week - 1] + "s at " + hourLabel(peak.hour)]); }
    var genre = data.genre_distribution.filter(function (r) { return r.genre !== "unknown"; })[0];
    if (genre) { highlights.push(["Top genre", genre.genre]); }
    var streak = data.artist_streaks[0];
    if (streak) { highlights.push(["Longest streak", streak.days + " days of " + streak.name]); }
    var day = data.longest_days[0];
    if (day) { highlights.push(["Biggest day", longDate(day.local_date) + ", " + hours(day.listening_ms)]); }
    var album = data.album_completion.filter(function (r) { return r.status === "complete"; })[0];
    if (album) { highlights.push(["An album you heard through", album.name]); }
    highlights.push(["Mainstream score (0-100)", o.mainstream_score === null ? "unknown" : oneDecimal.format(o.mainstream_score)]);
    highlights.push(["Skip rate", pct(o.skip_rate)]);
    cards("cards-highlights", highlights);
  }

  if (page === "overview") {
    drawOverviewCards();
    if (byId("chart-months")) { drawMonths(); }
    drawTops();
    drawPodcasts();
    drawGenres(15);
    drawHours();
    drawDays();
    drawClock();
    drawSessions();
    drawStreaks();
    drawAlbums();
    drawPlaylists();
    drawPopularity();
    drawPreferences();
    drawSkips();
    drawDiscoveries();
  } else if (page === "wrapped") {
    drawWrapped();
    drawMonths();
    drawGenres(5);
    drawClock();
    drawDiscoveries();
  } else if (page === "entity") {
    drawProfile();
  }
})();
