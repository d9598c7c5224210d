/* Loss Atlas report: the table explorer of Appendix A (every cell). Inlined into the HTML by
   lossatlas.report.render; needs nothing else and sends no request. Without it (or in the PDF) the
   table is a plain table. It shows the controls (labelled selects, a search field, a reset button),
   makes each column heading a button that sorts by the column (again: the other way), filters the
   rows by every select and the search text together, and says how many rows are shown. */
(function () {
  "use strict";
  var explorer = document.getElementById("explorer");
  if (!explorer) { return; }
  var table = document.getElementById(explorer.getAttribute("data-table"));
  if (!table || !table.tBodies.length) { return; }
  var body = table.tBodies[0];
  var headings = Array.prototype.slice.call(table.tHead.rows[0].cells);
  var data = document.getElementById("explorer-data");
  if (data) { build(JSON.parse(data.textContent)); }
  var selects = Array.prototype.slice.call(explorer.querySelectorAll("select[data-column]"));
  var search = document.getElementById("explorer-search");
  var count = document.getElementById("explorer-count");
  var total = body.rows.length;  // after build()

  // The rows of a table too long to print, from its data (lossatlas.report.sections.appendix_data):
  // per row the index of each coordinate's value, the flag (shown after the value of the column
  // data.flag, the activation), the seeds, each metric as "mean low high", R² and how training past
  // the budget ended (left out where it was not; a column only where the table has one).
  function build(data) {
    var dimensions = data.values.length;
    var metrics = data.metrics;
    var fragment = document.createDocumentFragment();
    data.rows.forEach(function (values) {
      var row = document.createElement("tr");
      function cell(text) {
        var td = document.createElement("td");
        if (text !== undefined) { td.textContent = text; }
        row.appendChild(td);
        return td;
      }
      for (var d = 0; d < dimensions; d += 1) { cell(data.values[d][values[d]]); }
      if (values[dimensions]) {
        var flag = document.createElement("span");
        flag.className = "flag";
        flag.textContent = "\u2020";
        row.cells[data.flag].appendChild(flag);
      }
      cell(values[dimensions + 1]);
      for (var m = 0; m < metrics; m += 1) {
        var td = cell(), mean = document.createElement("b"), interval = document.createElement("small");
        var parts = values[dimensions + 2 + m].split(" ");
        mean.textContent = parts[0];
        interval.textContent = "[" + parts[1] + ", " + parts[2] + "]";
        td.appendChild(mean);
        td.appendChild(document.createTextNode(" "));
        td.appendChild(interval);
      }
      cell(values[dimensions + 2 + metrics]);
      if (headings.length > row.cells.length) { cell(values[dimensions + 3 + metrics] || "\u2014"); }
      fragment.appendChild(row);
    });
    body.appendChild(fragment);
  }

  // A cell's value as a filter sees it: its text without the flag (dagger) of a flagged cell.
  function label(cell) {
    return cell.textContent.replace(/\u2020/g, "").trim();
  }
  // A number column's sort key: the first number of the text ("inf" is infinite); NaN for "n/a".
  // A number as the report writes it (lossatlas.core.textfmt): "12,300", "1.2×10⁻⁵", "∞", "not reached".
  var SUPERSCRIPTS = {"⁰": "0", "¹": "1", "²": "2", "³": "3", "⁴": "4", "⁵": "5", "⁶": "6", "⁷": "7", "⁸": "8", "⁹": "9", "⁻": "-"};
  function number(text) {
    if (/^\s*not reached/i.test(text)) { return Infinity; }
    var match = /^\s*(-?∞|-?inf|-?[\d,]*\d(?:\.\d+)?)(?:×10([⁻⁰¹²³⁴⁵⁶⁷⁸⁹]+))?/i.exec(text);
    if (!match) { return NaN; }
    if (/∞|inf/i.test(match[1])) { return match[1].charAt(0) === "-" ? -Infinity : Infinity; }
    var value = parseFloat(match[1].replace(/,/g, ""));
    if (match[2]) {
      var power = match[2].split("").map(function (c) { return SUPERSCRIPTS[c]; }).join("");
      value *= Math.pow(10, parseInt(power, 10));
    }
    return value;
  }

  var rows = Array.prototype.slice.call(body.rows).map(function (row, index) {
    return { row: row, index: index, text: row.textContent.toLowerCase(), labels: null, keys: {} };
  });
  function labels(item) {
    if (!item.labels) {
      item.labels = Array.prototype.map.call(item.row.cells, label);
    }
    return item.labels;
  }

  function apply() {
    var wanted = selects.map(function (select) {
      return { column: parseInt(select.getAttribute("data-column"), 10), value: select.value };
    }).filter(function (filter) { return filter.value !== ""; });
    var query = search.value.trim().toLowerCase();
    var shown = 0;
    rows.forEach(function (item) {
      var keep = (!query || item.text.indexOf(query) >= 0) && wanted.every(function (filter) {
        return labels(item)[filter.column] === filter.value;
      });
      item.row.hidden = !keep;
      if (keep) {
        item.row.className = shown % 2 ? "alt" : "";
        shown += 1;
      }
    });
    count.textContent = shown + " of " + total + " cells shown" + (shown ? "." : ": no cell matches every filter.");
  }

  function sortBy(column, button) {
    var heading = headings[column];
    var ascending = heading.getAttribute("aria-sort") !== "ascending";
    var numeric = heading.classList.contains("num") || heading.getAttribute("data-sort") === "number";
    headings.forEach(function (other) { other.setAttribute("aria-sort", "none"); });
    heading.setAttribute("aria-sort", ascending ? "ascending" : "descending");
    var direction = ascending ? 1 : -1;
    function key(item) {
      if (!(column in item.keys)) {
        var text = labels(item)[column] || "";
        item.keys[column] = numeric ? number(text) : text;
      }
      return item.keys[column];
    }
    rows.sort(function (a, b) {
      var x = key(a), y = key(b), order;
      if (numeric) {
        var xMissing = isNaN(x), yMissing = isNaN(y);
        if (xMissing || yMissing) {  // n/a last, whichever the direction
          order = xMissing === yMissing ? 0 : (xMissing ? 1 : -1);
          return order || a.index - b.index;
        }
        order = x === y ? 0 : (x < y ? -1 : 1);
      } else {
        order = x.localeCompare(y, undefined, { numeric: true, sensitivity: "base" });
      }
      return order * direction || a.index - b.index;
    });
    var fragment = document.createDocumentFragment();
    rows.forEach(function (item) { fragment.appendChild(item.row); });
    body.appendChild(fragment);
    apply();
    if (button) { button.focus(); }
  }

  headings.forEach(function (heading, column) {
    var button = document.createElement("button");
    button.type = "button";
    button.className = "sort";
    while (heading.firstChild) { button.appendChild(heading.firstChild); }
    button.setAttribute("title", "Sort by this column (again: the other way)");
    heading.appendChild(button);
    heading.setAttribute("aria-sort", "none");
    button.addEventListener("click", function () { sortBy(column, button); });
  });
  selects.forEach(function (select) { select.addEventListener("change", apply); });
  search.addEventListener("input", apply);
  document.getElementById("explorer-reset").addEventListener("click", function () {
    selects.forEach(function (select) { select.value = ""; });
    search.value = "";
    apply();
  });
  explorer.hidden = false;
  apply();
}());
