// The creator's studio: a judge row shows only its kind's options (all show without script).
(function () {
  function sync(row) {
    var kind = row.querySelector("[data-studio-kind]").value;
    row.querySelectorAll(".studio-kind-options").forEach(function (group) {
      group.hidden = group.dataset.kind !== kind;
    });
  }
  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-studio-judge]").forEach(function (row) {
      sync(row);
      row.querySelector("[data-studio-kind]").addEventListener("change", function () {
        sync(row);
      });
    });
  });
})();
