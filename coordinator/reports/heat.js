/* Incident density on a canvas: a small offline stand-in for leaflet-heat.
 *
 * Each incident adds a radial blob of alpha to a grey canvas; overlapping blobs
 * build up, and the summed alpha is then mapped onto a blue-to-red palette.
 * Redrawn after every move or zoom, so it stays aligned with the vector layers.
 */
(function () {
  "use strict";

  function palette() {
    var canvas = document.createElement("canvas");
    canvas.width = 256;
    canvas.height = 1;
    var ctx = canvas.getContext("2d");
    var grad = ctx.createLinearGradient(0, 0, 256, 0);
    grad.addColorStop(0.0, "#2c7bb6");
    grad.addColorStop(0.35, "#00a6ca");
    grad.addColorStop(0.55, "#90eb9d");
    grad.addColorStop(0.75, "#f9d057");
    grad.addColorStop(1.0, "#d7191c");
    ctx.fillStyle = grad;
    ctx.fillRect(0, 0, 256, 1);
    return ctx.getImageData(0, 0, 256, 1).data;
  }

  L.HeatCanvas = L.Layer.extend({
    options: { radius: 34, maxOpacity: 0.75, pane: "heatPane" },

    initialize: function (points, options) {
      this._points = points; // [[lat, lon, weight 0..1], ...]
      L.setOptions(this, options);
    },

    onAdd: function (map) {
      if (!map.getPane(this.options.pane)) {
        // Below the vector overlays (400) so markers stay readable on top of the density.
        map.createPane(this.options.pane).style.zIndex = 350;
      }
      this._canvas = L.DomUtil.create("canvas", "heat-canvas leaflet-zoom-hide");
      this._canvas.style.pointerEvents = "none";
      map.getPane(this.options.pane).appendChild(this._canvas);
      map.on("moveend zoomend resize viewreset", this._redraw, this);
      this._redraw();
    },

    onRemove: function (map) {
      map.off("moveend zoomend resize viewreset", this._redraw, this);
      L.DomUtil.remove(this._canvas);
    },

    _redraw: function () {
      var map = this._map;
      var size = map.getSize();
      var canvas = this._canvas;
      L.DomUtil.setPosition(canvas, map.containerPointToLayerPoint([0, 0]));
      canvas.width = size.x;
      canvas.height = size.y;
      if (!size.x || !size.y) return;
      // Read back once per redraw to colourise; the hint keeps the canvas in CPU memory for that.
      var ctx = canvas.getContext("2d", { willReadFrequently: true });
      var r = this.options.radius;
      for (var i = 0; i < this._points.length; i++) {
        var pt = this._points[i];
        var p = map.latLngToContainerPoint([pt[0], pt[1]]);
        if (p.x < -r || p.y < -r || p.x > size.x + r || p.y > size.y + r) continue;
        var weight = Math.max(0.15, Math.min(1, pt[2]));
        var grad = ctx.createRadialGradient(p.x, p.y, 0, p.x, p.y, r);
        grad.addColorStop(0, "rgba(0,0,0," + weight * 0.9 + ")");
        grad.addColorStop(1, "rgba(0,0,0,0)");
        ctx.fillStyle = grad;
        ctx.fillRect(p.x - r, p.y - r, 2 * r, 2 * r);
      }
      var image = ctx.getImageData(0, 0, size.x, size.y);
      var data = image.data;
      var colours = this._palette || (this._palette = palette());
      var maxAlpha = 255 * this.options.maxOpacity;
      for (var j = 3; j < data.length; j += 4) {
        var a = data[j];
        if (!a) continue;
        var k = a * 4;
        data[j - 3] = colours[k];
        data[j - 2] = colours[k + 1];
        data[j - 1] = colours[k + 2];
        data[j] = Math.min(maxAlpha, a * 1.6);
      }
      ctx.putImageData(image, 0, 0);
    },
  });

  L.heatCanvas = function (points, options) {
    return new L.HeatCanvas(points, options);
  };
})();
