/* The all-runs table: click a column header to sort by it (again: the other way round; an empty
   cell sorts last either way), type in the box to keep the rows that contain every word typed.
   Inline and dependency-free: the report stays one self-contained file that works offline.
   Numeric cells carry their exact value in data-sort (the text is rounded: 1.23e+06, 1,234). */
(function () {
  "use strict";
  var table = document.getElementById("runs-table");
  var tools = document.getElementById("runs-tools");
  var filter = document.getElementById("runs-filter");
  var count = document.getElementById("runs-count");
  if (!table || !tools || !filter || !count) return;
  var body = table.tBodies[0];
  var headers = table.tHead.rows[0].cells;
  var rows = Array.prototype.slice.call(body.rows);
  var texts = rows.map(function (row) { return row.textContent.toLowerCase(); });
  var sorted = {column: -1, descending: false};

  function key(row, column) {
    var cell = row.cells[column];
    var raw = cell ? cell.getAttribute("data-sort") : null;
    var text = (raw === null ? (cell ? cell.textContent : "") : raw).trim();
    if (text === "" || text === "\u2014") return {missing: true};
    var number = Number(text);
    return raw !== null && !isNaN(number) ? {number: number} : {text: text.toLowerCase()};
  }

  function compare(a, b, descending) {
    if (a.missing || b.missing) return (a.missing ? 1 : 0) - (b.missing ? 1 : 0);
    var order;
    if ("number" in a && "number" in b) order = a.number - b.number;
    else if ("number" in a || "number" in b) order = "number" in a ? -1 : 1;
    else order = a.text < b.text ? -1 : a.text > b.text ? 1 : 0;
    return descending ? -order : order;
  }

  function sortBy(column) {
    sorted.descending = sorted.column === column ? !sorted.descending : false;
    sorted.column = column;
    var items = rows.map(function (row, index) { return {row: row, index: index, key: key(row, column)}; });
    items.sort(function (a, b) { return compare(a.key, b.key, sorted.descending) || a.index - b.index; });
    items.forEach(function (item) { body.appendChild(item.row); });
    Array.prototype.forEach.call(headers, function (th, index) {
      th.setAttribute("aria-sort", index !== column ? "none" : sorted.descending ? "descending" : "ascending");
    });
  }

  function applyFilter() {
    var words = filter.value.toLowerCase().split(/\s+/).filter(Boolean);
    var shown = 0;
    rows.forEach(function (row, index) {
      var keep = words.every(function (word) { return texts[index].indexOf(word) !== -1; });
      row.hidden = !keep;
      shown += keep ? 1 : 0;
    });
    count.textContent = shown === rows.length ? "all " + rows.length + " rows" : shown + " of " + rows.length + " rows";
  }

  Array.prototype.forEach.call(headers, function (th, column) {
    th.tabIndex = 0;
    th.setAttribute("aria-sort", "none");
    th.addEventListener("click", function () { sortBy(column); });
    th.addEventListener("keydown", function (event) {
      if (event.key === "Enter" || event.key === " ") { event.preventDefault(); sortBy(column); }
    });
  });
  filter.addEventListener("input", applyFilter);
  tools.hidden = false;  // the controls only appear where the script runs
  applyFilter();
})();
