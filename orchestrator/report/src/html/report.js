// stagenet report: draws the charts of the page from the embedded report (#report-data).
// No libraries and nothing loaded. At the end `document.body.dataset.rendered` is "ok", or
// "error" with the errors written into #render-errors.
(function () {
	"use strict";

	var errors = [];
	var SVG_NS = null;
	var W = 960;
	var H = 280;
	var M = { left: 64, right: 22, top: 34, bottom: 44 };
	var U64_NEAR_MAX = 1.8e19;

	function finish() {
		var out = document.getElementById("render-errors");
		if (errors.length) {
			if (out) {
				out.hidden = false;
				out.textContent = "the charts could not be drawn:\n" + errors.join("\n");
			}
			document.body.dataset.rendered = "error";
		} else {
			document.body.dataset.rendered = "ok";
		}
	}

	window.addEventListener("error", function (ev) {
		errors.push(String(ev.message || ev));
		finish();
	});

	// The SVG namespace, taken from the parser rather than spelled out in the page.
	function svgNamespace() {
		var probe = document.createElement("div");
		probe.innerHTML = "<svg></svg>";
		return probe.firstChild.namespaceURI;
	}

	function el(name, attrs, parent, text) {
		var node = document.createElementNS(SVG_NS, name);
		if (attrs) {
			Object.keys(attrs).forEach(function (k) {
				node.setAttribute(k, String(attrs[k]));
			});
		}
		if (text !== undefined) node.textContent = text;
		if (parent) parent.appendChild(node);
		return node;
	}

	function r1(v) {
		return Math.round(v * 10) / 10;
	}

	// 1, 2 or 5 times a power of ten, at least `raw`.
	function niceStep(raw) {
		if (!(raw > 0)) return 1;
		var exp = Math.floor(Math.log10(raw));
		var base = Math.pow(10, exp);
		var f = raw / base;
		var nf = f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10;
		return nf * base;
	}

	function fmtNumber(v) {
		if (Math.abs(v) >= 1000) return Math.round(v).toLocaleString("en-US");
		return String(Math.round(v * 100) / 100);
	}

	function isNum(v) {
		return typeof v === "number" && isFinite(v);
	}

	// ---- data -------------------------------------------------------------------------------

	function percentOf(w, b) {
		var max = b.limits && b.limits.max_block;
		return max > 0 && isNum(w) ? (w * 100) / max : null;
	}

	function normalLimit(b) {
		var l = b.limits || {};
		var m = l.max_total && l.max_total.normal;
		if (!(l.max_block > 0) || !isNum(m) || m >= U64_NEAR_MAX) return null;
		return (m * 100) / l.max_block;
	}

	function finalityLag(b) {
		var lowest = null;
		(b.heights || []).forEach(function (h) {
			if (isNum(h.finalized) && (lowest === null || h.finalized < lowest)) lowest = h.finalized;
		});
		return lowest === null ? null : Math.max(0, b.number - lowest);
	}

	// The block a finding without a block number belongs to: the last one seen before it.
	function blockAt(blocks, at) {
		var found = null;
		blocks.forEach(function (b) {
			if (b.seen_at <= at) found = b.number;
		});
		return found;
	}

	function markersOf(data, blocks) {
		var upgrades = (data.upgrades || []).map(function (u) {
			if (isNum(u.first_block)) {
				return { block: u.first_block, label: "upgrade → " + (u.new_version || "?") };
			}
			return { block: u.included_in, label: "set_code #" + u.included_in + " (no new runtime)" };
		});
		var findings = [];
		(data.findings || []).forEach(function (f) {
			var block = isNum(f.block) ? f.block : blockAt(blocks, f.at);
			if (block === null) return;
			findings.push({
				block: block,
				kind: f.kind,
				title: f.kind + (f.node ? " on " + f.node : "") + " at #" + block + ": " + f.message,
			});
		});
		return { upgrades: upgrades, findings: findings };
	}

	// The markers that fall within [x0, x1].
	function markersWithin(markers, x0, x1) {
		function inside(m) {
			return m.block >= x0 && m.block <= x1;
		}
		return { upgrades: markers.upgrades.filter(inside), findings: markers.findings.filter(inside) };
	}

	// The charts of one stress load: its own transactions per block (bars, with the theoretical
	// maximum), how full the blocks were, and block time. Half a block of room on either side
	// so that the first and last bars fit.
	function stressCharts(s, markers) {
		var blocks = (s.blocks || []).slice().sort(function (a, b) {
			return a.number - b.number;
		});
		if (!blocks.length) return [];
		var domain = [blocks[0].number - 0.5, blocks[blocks.length - 1].number + 0.5];
		var within = markersWithin(markers, domain[0], domain[1]);
		var id = "stress-" + s.seq;
		function percentOfLimit(part, limit) {
			return isNum(part) && isNum(limit) && limit > 0 && limit < U64_NEAR_MAX ? (part * 100) / limit : null;
		}
		var included = [
			{
				key: "ours",
				label: "included (ours)",
				bar: true,
				points: blocks.map(function (b) {
					return [b.number, isNum(b.ours) ? b.ours : null];
				}),
			},
		];
		if (isNum(s.theoretical_per_block) && s.theoretical_per_block < U64_NEAR_MAX) {
			included.push({
				key: "theoretical",
				label: "theoretical maximum (" + fmtNumber(s.theoretical_per_block) + ")",
				limit: true,
				points: blocks.map(function (b) {
					return [b.number, s.theoretical_per_block];
				}),
			});
		}
		var fill = [
			{
				key: "normal-fill",
				label: "normal weight",
				points: blocks.map(function (b) {
					return [b.number, percentOfLimit(b.normal_weight, b.normal_limit)];
				}),
			},
			{
				key: "length-fill",
				label: "length",
				points: blocks.map(function (b) {
					return [b.number, percentOfLimit(b.length, b.length_limit)];
				}),
			},
			{
				key: "full",
				label: "limit",
				limit: true,
				points: blocks.map(function (b) {
					return [b.number, 100];
				}),
			},
		];
		var times = blocks.map(function (b) {
			return [b.number, isNum(b.block_time_ms) ? b.block_time_ms : null];
		});
		return [
			{ spec: { id: id, yTitle: "transactions", unit: "", integer: true, series: included }, domain: domain, markers: within },
			{ spec: { id: id + "-fill", yTitle: "% of the limit", unit: " %", series: fill }, domain: domain, markers: within },
			{
				spec: {
					id: id + "-block-time",
					yTitle: "block time (ms)",
					unit: "",
					series: [{ key: "block-time", label: "block time (ms)", points: times }],
				},
				domain: domain,
				markers: within,
			},
		];
	}

	// ---- one chart --------------------------------------------------------------------------

	// spec: { id, yTitle, unit, integer,
	//         series: [{ key, label, points: [[x, y|null]], limit, bar }] }
	function drawChart(box, spec, xDomain, markers) {
		var svg = el("svg", {
			id: "chart-" + spec.id,
			viewBox: "0 0 " + W + " " + H,
			role: "img",
			"aria-label": spec.yTitle + " per block",
			"data-x-min": xDomain[0],
			"data-x-max": xDomain[1],
		});
		box.appendChild(svg);
		var pw = W - M.left - M.right;
		var ph = H - M.top - M.bottom;
		var x0 = xDomain[0];
		var x1 = xDomain[1] > xDomain[0] ? xDomain[1] : xDomain[0] + 1;
		function sx(v) {
			return M.left + ((v - x0) / (x1 - x0)) * pw;
		}

		var yMaxData = 0;
		spec.series.forEach(function (s) {
			s.points.forEach(function (p) {
				if (isNum(p[1]) && p[1] > yMaxData) yMaxData = p[1];
			});
		});
		var yStep = niceStep((yMaxData || 1) / 5);
		if (spec.integer) yStep = Math.max(1, Math.round(yStep));
		var yTop = Math.max(yStep, Math.ceil((yMaxData * 1.05) / yStep) * yStep);
		function sy(v) {
			return M.top + ph - (v / yTop) * ph;
		}
		svg.dataset.yMax = String(yTop);

		// grid and y axis
		var grid = el("g", { class: "grid" }, svg);
		var yAxis = el("g", { class: "axis y" }, svg);
		for (var t = 0; t <= yTop + yStep / 1000; t += yStep) {
			var y = r1(sy(t));
			el("line", { x1: M.left, x2: M.left + pw, y1: y, y2: y }, grid);
			el("text", { x: M.left - 8, y: y + 4, "text-anchor": "end" }, yAxis, fmtNumber(t) + spec.unit);
		}
		el("line", { x1: M.left, x2: M.left, y1: M.top, y2: M.top + ph }, yAxis);
		el(
			"text",
			{
				class: "axis-title",
				transform: "translate(14 " + (M.top + ph / 2) + ") rotate(-90)",
				"text-anchor": "middle",
			},
			yAxis,
			spec.yTitle
		);

		// x axis
		var xAxis = el("g", { class: "axis x" }, svg);
		el("line", { x1: M.left, x2: M.left + pw, y1: M.top + ph, y2: M.top + ph }, xAxis);
		var xStep = Math.max(1, Math.round(niceStep((x1 - x0) / 12)));
		for (var b = Math.ceil(x0 / xStep) * xStep; b <= x1; b += xStep) {
			var x = r1(sx(b));
			el("line", { x1: x, x2: x, y1: M.top + ph, y2: M.top + ph + 4 }, xAxis);
			el("text", { x: x, y: M.top + ph + 16, "text-anchor": "middle" }, xAxis, "#" + b);
		}
		el(
			"text",
			{ class: "axis-title", x: M.left + pw / 2, y: H - 6, "text-anchor": "middle" },
			xAxis,
			"block"
		);

		// series: bars, or a line with a gap where a value is missing or blocks were skipped
		var barWidth = Math.max(1, (pw / (x1 - x0)) * 0.7);
		spec.series.forEach(function (s) {
			if (s.bar) {
				var bars = el("g", { class: "bars", "data-series": s.key }, svg);
				var drawn = 0;
				s.points.forEach(function (p) {
					if (!isNum(p[1])) return;
					var top = r1(sy(p[1]));
					var bar = el(
						"rect",
						{
							class: "bar",
							"data-block": p[0],
							"data-value": p[1],
							x: r1(sx(p[0]) - barWidth / 2),
							y: top,
							width: r1(barWidth),
							height: Math.max(0, r1(M.top + ph - top)),
						},
						bars
					);
					el("title", null, bar, "#" + p[0] + ": " + fmtNumber(p[1]) + spec.unit);
					drawn += 1;
				});
				bars.setAttribute("data-points", drawn);
				return;
			}
			var d = "";
			var prev = null;
			var count = 0;
			s.points.forEach(function (p) {
				if (!isNum(p[1])) {
					prev = null;
					return;
				}
				var cmd = prev === null || p[0] - prev > 1 ? "M" : "L";
				d += cmd + r1(sx(p[0])) + " " + r1(sy(p[1]));
				prev = p[0];
				count += 1;
			});
			if (!d) return;
			if (count === 1) d += "h0.01";
			el(
				"path",
				{ class: s.limit ? "limit" : "series", "data-series": s.key, "data-points": count, d: d },
				svg
			).appendChild(el("title", null, null, s.label));
		});

		// markers: upgrades as dashed vertical lines, findings as dots on the x axis
		var mg = el("g", { class: "markers" }, svg);
		markers.upgrades.forEach(function (u, i) {
			if (u.block < x0 || u.block > x1) return;
			var x = r1(sx(u.block));
			var line = el(
				"line",
				{ class: "marker upgrade", "data-block": u.block, x1: x, x2: x, y1: M.top, y2: M.top + ph },
				mg
			);
			el("title", null, line, u.label + " (first block #" + u.block + ")");
			var right = x > M.left + pw * 0.7;
			el(
				"text",
				{
					class: "marker-label",
					"data-block": u.block,
					x: right ? x - 5 : x + 5,
					y: M.top + 12 + (i % 3) * 13,
					"text-anchor": right ? "end" : "start",
				},
				mg,
				u.label
			);
		});
		var stacked = {};
		markers.findings.forEach(function (f) {
			if (f.block < x0 || f.block > x1) return;
			var n = stacked[f.block] || 0;
			stacked[f.block] = n + 1;
			var dot = el(
				"circle",
				{
					class: "marker finding",
					"data-kind": f.kind,
					"data-block": f.block,
					cx: r1(sx(f.block)),
					cy: M.top + ph - 7 - n * 11,
					r: 5,
				},
				mg
			);
			el("title", null, dot, f.title);
		});

		legend(svg, spec, markers);
		hover(svg, spec, sx, sy, x0, x1, pw, ph);
		return svg;
	}

	function legend(svg, spec, markers) {
		var g = el("g", { class: "legend" }, svg);
		var x = M.left;
		var y = 14;
		function item(label, draw) {
			draw(x);
			var text = el("text", { x: x + 24, y: y + 4 }, g, label);
			x += 24 + Math.max(40, label.length * 6.4) + 16;
			return text;
		}
		spec.series.forEach(function (s) {
			item(s.label, function (at) {
				el(
					"line",
					{
						class: "legend-swatch" + (s.limit ? " dashed" : ""),
						"data-series": s.key,
						x1: at,
						x2: at + 18,
						y1: y,
						y2: y,
					},
					g
				);
			});
		});
		if (markers.upgrades.length) {
			item("upgrade", function (at) {
				el("line", { class: "legend-swatch upgrade", x1: at + 9, x2: at + 9, y1: y - 7, y2: y + 7 }, g);
			});
		}
		if (markers.findings.length) {
			item("finding", function (at) {
				el("circle", { class: "legend-swatch finding", cx: at + 9, cy: y, r: 5 }, g);
			});
		}
	}

	// A guide line and the values of the block under the pointer.
	function hover(svg, spec, sx, sy, x0, x1, pw, ph) {
		var area = el("rect", { class: "hover-area", x: M.left, y: M.top, width: pw, height: ph }, svg);
		var g = el("g", { class: "tooltip", visibility: "hidden" }, svg);
		var guide = el("line", { class: "guide", y1: M.top, y2: M.top + ph }, g);
		var bg = el("rect", { rx: 4, width: 10, height: 10 }, g);
		var text = el("text", {}, g);
		var byBlock = spec.series.map(function (s) {
			var m = {};
			s.points.forEach(function (p) {
				m[p[0]] = p[1];
			});
			return m;
		});
		area.addEventListener("mouseleave", function () {
			g.setAttribute("visibility", "hidden");
		});
		area.addEventListener("mousemove", function (ev) {
			var ctm = svg.getScreenCTM();
			if (!ctm) return;
			var px = (ev.clientX - ctm.e) / ctm.a;
			var block = Math.round(x0 + ((px - M.left) / pw) * (x1 - x0));
			block = Math.min(Math.floor(x1), Math.max(Math.ceil(x0), block));
			var x = sx(block);
			guide.setAttribute("x1", x);
			guide.setAttribute("x2", x);
			var lines = ["#" + block];
			spec.series.forEach(function (s, i) {
				var v = byBlock[i][block];
				lines.push(s.label + ": " + (isNum(v) ? fmtNumber(v) + spec.unit : "–"));
			});
			while (text.firstChild) text.removeChild(text.firstChild);
			var tx = x + 10 > M.left + pw - 200 ? x - 210 : x + 10;
			lines.forEach(function (l, i) {
				el("tspan", { x: tx + 8, y: M.top + 18 + i * 14 }, text, l);
			});
			bg.setAttribute("x", tx);
			bg.setAttribute("y", M.top + 4);
			bg.setAttribute("width", 200);
			bg.setAttribute("height", lines.length * 14 + 8);
			g.setAttribute("visibility", "visible");
		});
	}

	// ---- the page ---------------------------------------------------------------------------

	function draw(data) {
		var blocks = (data.blocks || []).slice().sort(function (a, b) {
			return a.number - b.number;
		});
		var boxes = {};
		document.querySelectorAll(".chart-box[data-chart]").forEach(function (b) {
			boxes[b.dataset.chart] = b;
		});
		var markers = markersOf(data, blocks);
		var charts = blocks.length ? ledgerCharts(data, blocks, markers) : []; // else "no blocks recorded"
		(data.stresses || []).forEach(function (s) {
			charts = charts.concat(stressCharts(s, markers));
		});
		charts.forEach(function (c) {
			var box = boxes[c.spec.id];
			if (!box) {
				errors.push("no chart box for `" + c.spec.id + "`");
				return;
			}
			try {
				drawChart(box, c.spec, c.domain, c.markers);
			} catch (e) {
				errors.push("chart `" + c.spec.id + "`: " + (e && e.stack ? e.stack : String(e)));
			}
		});
	}

	// The charts of the ledger: weight, block time and finality lag.
	function ledgerCharts(data, blocks, markers) {
		var xDomain = [blocks[0].number, blocks[blocks.length - 1].number];

		var weight = ["normal", "operational", "mandatory"].map(function (cls) {
			return {
				key: cls,
				label: cls,
				points: blocks.map(function (b) {
					return [b.number, percentOf(b.weight && b.weight[cls], b)];
				}),
			};
		});
		weight.push({
			key: "normal-limit",
			label: "normal limit",
			limit: true,
			points: blocks.map(function (b) {
				return [b.number, normalLimit(b)];
			}),
		});

		var times = [];
		for (var i = 1; i < blocks.length; i++) {
			var a = blocks[i - 1];
			var b = blocks[i];
			if (b.number === a.number + 1 && isNum(a.timestamp) && isNum(b.timestamp)) {
				times.push([b.number, b.timestamp - a.timestamp]);
			}
		}

		var charts = [
			{ id: "weight", yTitle: "% of max block", unit: " %", series: weight },
			{
				id: "block-time",
				yTitle: "block time (ms)",
				unit: "",
				series: [{ key: "block-time", label: "block time (ms)", points: times }],
			},
			{
				id: "finality",
				yTitle: "finality lag (blocks)",
				unit: "",
				integer: true,
				series: [
					{
						key: "finality-lag",
						label: "finality lag (blocks)",
						points: blocks.map(function (b) {
							return [b.number, finalityLag(b)];
						}),
					},
				],
			},
		];
		return charts.map(function (spec) {
			return { spec: spec, domain: xDomain, markers: markers };
		});
	}

	try {
		SVG_NS = svgNamespace();
		var source = document.getElementById("report-data");
		if (!source) throw new Error("the page has no #report-data");
		draw(JSON.parse(source.textContent));
	} catch (e) {
		errors.push(e && e.stack ? e.stack : String(e));
	}
	finish();
})();
