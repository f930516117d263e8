// Counts what the browser actually drew, for tests/report.rs: thumbnails that decoded
// (naturalWidth > 0) and charts whose SVG has content, written into #browser-check.
window.addEventListener("load", function () {
  var decoded = 0;
  var images = document.images;
  for (var i = 0; i < images.length; i++) {
    if (images[i].complete && images[i].naturalWidth > 0) decoded++;
  }
  var drawn = 0;
  var charts = document.querySelectorAll(".chart > svg");
  for (var j = 0; j < charts.length; j++) {
    var box = charts[j].getBoundingClientRect();
    if (charts[j].childElementCount > 0 && box.width > 0 && box.height > 0) drawn++;
  }
  var out = document.getElementById("browser-check");
  out.setAttribute("data-images-decoded", String(decoded));
  out.setAttribute("data-charts-drawn", String(drawn));
  out.textContent = decoded + " images decoded, " + drawn + " charts drawn";
});
