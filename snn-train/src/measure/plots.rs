//! PNG figures with plotters: `#AC` against `#MAC` per layer, accuracy against time
//! steps, a spike raster of one input, and training curves.
//!
//! Text is rendered with `ab_glyph` and the DejaVu Sans font shipped in
//! `assets/fonts/` (Bitstream Vera licence), so no system font library is needed.

use std::path::Path;

use plotters::prelude::*;

/// A plotting failure (rendering or writing the file).
#[derive(Debug, thiserror::Error)]
#[error("plot {path}: {message}")]
pub struct PlotError {
    /// The output file.
    pub path: String,
    /// What went wrong.
    pub message: String,
}

fn err(path: &Path, e: impl std::fmt::Display) -> PlotError {
    PlotError {
        path: path.display().to_string(),
        message: e.to_string(),
    }
}

static FONT: &[u8] = include_bytes!("../../../assets/fonts/DejaVuSans.ttf");

fn register_font() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // Only fails on a malformed font; the shipped one is tested.
        let _ = plotters::style::register_font("sans-serif", FontStyle::Normal, FONT);
    });
}

/// One group of [`ac_vs_mac`]: a layer's label and its two operation counts.
#[derive(Debug, Clone, PartialEq)]
pub struct OpsBar {
    /// Axis label of the group.
    pub label: String,
    /// Accumulates of the spiking network (`#AC`).
    pub ac: f64,
    /// Multiply-accumulates of the same network as an ANN (`#MAC`).
    pub mac: f64,
}

/// Grouped bars (log scale): the SNN's `#AC` and the ANN's `#MAC` per layer, under
/// `title`.
///
/// # Errors
/// [`PlotError`].
pub fn ac_vs_mac(title: &str, bars: &[OpsBar], path: &Path) -> Result<(), PlotError> {
    register_font();
    let root = BitMapBackend::new(path, (900, 520)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| err(path, e))?;
    let max = bars.iter().map(|l| l.ac.max(l.mac)).fold(1.0, f64::max) * 3.0;
    let n = bars.len();
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 20))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(70)
        .build_cartesian_2d(-0.5f64..n as f64 - 0.5, (1f64..max).log_scale())
        .map_err(|e| err(path, e))?;
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(n + 1)
        .x_label_formatter(&|x| {
            let i = x.round();
            if (x - i).abs() > 1e-6 || i < 0.0 {
                return String::new();
            }
            bars.get(i as usize)
                .map_or(String::new(), |l| l.label.clone())
        })
        .y_desc("operations")
        .draw()
        .map_err(|e| err(path, e))?;
    let bar = |i: usize, v: f64, off: f64, color: RGBColor| {
        Rectangle::new(
            [(i as f64 + off, 1.0), (i as f64 + off + 0.36, v.max(1.0))],
            color.filled(),
        )
    };
    chart
        .draw_series(
            bars.iter()
                .enumerate()
                .map(|(i, l)| bar(i, l.mac, -0.38, RGBColor(200, 90, 60))),
        )
        .map_err(|e| err(path, e))?
        .label("#MAC (ANN)")
        .legend(|(x, y)| {
            Rectangle::new(
                [(x, y - 5), (x + 12, y + 5)],
                RGBColor(200, 90, 60).filled(),
            )
        });
    chart
        .draw_series(
            bars.iter()
                .enumerate()
                .map(|(i, l)| bar(i, l.ac, 0.02, RGBColor(50, 110, 190))),
        )
        .map_err(|e| err(path, e))?
        .label("#AC (SNN)")
        .legend(|(x, y)| {
            Rectangle::new(
                [(x, y - 5), (x + 12, y + 5)],
                RGBColor(50, 110, 190).filled(),
            )
        });
    chart
        .configure_series_labels()
        .border_style(BLACK)
        .background_style(WHITE)
        .draw()
        .map_err(|e| err(path, e))?;
    root.present().map_err(|e| err(path, e))
}

/// A line chart of `(x, y)` series, each with a label.
///
/// # Errors
/// [`PlotError`].
pub fn lines(
    title: &str,
    x_desc: &str,
    y_desc: &str,
    series: &[(&str, Vec<(f64, f64)>)],
    path: &Path,
) -> Result<(), PlotError> {
    register_font();
    let root = BitMapBackend::new(path, (800, 480)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| err(path, e))?;
    let pts = series.iter().flat_map(|s| s.1.iter());
    let (mut x0, mut x1, mut y0, mut y1) = (f64::MAX, f64::MIN, f64::MAX, f64::MIN);
    for &(x, y) in pts {
        (x0, x1, y0, y1) = (x0.min(x), x1.max(x), y0.min(y), y1.max(y));
    }
    if x0 > x1 {
        (x0, x1, y0, y1) = (0.0, 1.0, 0.0, 1.0);
    }
    let pad = ((y1 - y0) * 0.05).max(1e-3);
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 20))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(60)
        .build_cartesian_2d(x0..x1.max(x0 + 1e-9), (y0 - pad)..(y1 + pad))
        .map_err(|e| err(path, e))?;
    chart
        .configure_mesh()
        .x_desc(x_desc)
        .y_desc(y_desc)
        .draw()
        .map_err(|e| err(path, e))?;
    for (k, (label, data)) in series.iter().enumerate() {
        let color = Palette99::pick(k).to_rgba();
        chart
            .draw_series(LineSeries::new(data.iter().copied(), color.stroke_width(2)))
            .map_err(|e| err(path, e))?
            .label(*label)
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 16, y)], color.stroke_width(2))
            });
        chart
            .draw_series(data.iter().map(|&p| Circle::new(p, 3, color.filled())))
            .map_err(|e| err(path, e))?;
    }
    chart
        .configure_series_labels()
        .border_style(BLACK)
        .background_style(WHITE)
        .draw()
        .map_err(|e| err(path, e))?;
    root.present().map_err(|e| err(path, e))
}

/// A spike raster: one panel per population, time on x, neuron index on y.
/// `spikes[p]` holds `(t, neuron)` pairs; `sizes[p]` the population size.
///
/// # Errors
/// [`PlotError`].
pub fn raster(
    spikes: &[Vec<(u32, u32)>],
    sizes: &[usize],
    names: &[String],
    steps: u32,
    path: &Path,
) -> Result<(), PlotError> {
    register_font();
    let panels = spikes.len().max(1);
    let root = BitMapBackend::new(path, (900, 180 * panels as u32 + 40)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| err(path, e))?;
    let (title, body) = root.split_vertically(40);
    title
        .titled("Spike raster of one input, every layer", ("sans-serif", 20))
        .map_err(|e| err(path, e))?;
    for (p, area) in body.split_evenly((panels, 1)).iter().enumerate() {
        let Some(points) = spikes.get(p) else {
            continue;
        };
        let mut chart = ChartBuilder::on(area)
            .margin(6)
            .x_label_area_size(25)
            .y_label_area_size(60)
            .caption(&names[p], ("sans-serif", 14))
            .build_cartesian_2d(0f64..f64::from(steps), 0f64..sizes[p].max(1) as f64)
            .map_err(|e| err(path, e))?;
        chart
            .configure_mesh()
            .disable_mesh()
            .x_labels(10)
            .y_labels(3)
            .draw()
            .map_err(|e| err(path, e))?;
        chart
            // Spread each step's spikes across its time bin (golden-ratio offsets by
            // neuron) so that simultaneous spikes stay visible as a band.
            .draw_series(points.iter().map(|&(t, i)| {
                let x = f64::from(t) + (f64::from(i) * 0.618_034).fract();
                Circle::new((x, f64::from(i)), 1, BLACK.filled())
            }))
            .map_err(|e| err(path, e))?;
    }
    root.present().map_err(|e| err(path, e))
}
