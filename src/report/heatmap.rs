//! The report's picture: requests by weekday (rows) and hour (columns), darker
//! for more, with the week's duty windows drawn over it as green frames, so the
//! hours when families write and nobody is on duty stand out. Drawn with
//! plotters' SVG backend (text as SVG text: no font files or libraries).

use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::Figures;

const WEEKDAYS: [&str; 7] = ["Пн", "Вт", "Ср", "Чт", "Пт", "Сб", "Вс"];
const WIDTH: u32 = 980;
const HEIGHT: u32 = 420;
/// The duty frames' colour.
const DUTY: RGBColor = RGBColor(22, 140, 60);

/// A cell's colour: pale grey for none, then from light yellow to dark red.
fn shade(n: u32, max: u32) -> RGBColor {
    if n == 0 || max == 0 {
        return RGBColor(244, 244, 244);
    }
    let f = f64::from(n) / f64::from(max);
    let mix = |a: u8, b: u8| (f64::from(a) + (f64::from(b) - f64::from(a)) * f) as u8;
    RGBColor(mix(255, 165), mix(236, 15), mix(170, 21))
}

/// The heat map as an SVG document.
pub fn svg(f: &Figures) -> anyhow::Result<String> {
    let mut out = String::new();
    {
        let root = SVGBackend::with_string(&mut out, (WIDTH, HEIGHT)).into_drawing_area();
        draw(&root, f).map_err(|e| anyhow::anyhow!("drawing the heat map: {e}"))?;
        root.present()
            .map_err(|e| anyhow::anyhow!("drawing the heat map: {e}"))?;
    }
    Ok(out)
}

type Area<'a> = DrawingArea<SVGBackend<'a>, plotters::coord::Shift>;

fn draw(root: &Area<'_>, f: &Figures) -> Result<(), DrawingAreaErrorKind<std::io::Error>> {
    root.fill(&WHITE)?;
    let caption = format!(
        "Обращения по дням и часам, {} – {} (зелёная рамка — дежурство)",
        f.monday.format("%d.%m.%Y"),
        f.sunday.format("%d.%m.%Y")
    );
    let mut chart = ChartBuilder::on(root)
        .caption(caption, ("sans-serif", 22))
        .margin(12)
        .margin_left(44)
        .x_label_area_size(44)
        .build_cartesian_2d(0f64..24f64, 0f64..7f64)?;
    chart
        .configure_mesh()
        .disable_mesh()
        .disable_y_axis()
        .x_labels(25)
        .x_label_formatter(&|x| format!("{:02}", x.round() as u32))
        .x_desc("час")
        .label_style(("sans-serif", 15))
        .draw()?;
    let max = f.heat.iter().flatten().copied().max().unwrap_or(0);
    // Row 0 (Monday) at the top.
    let row_y = |day: usize| 7.0 - day as f64 - 1.0;
    chart.draw_series(f.heat.iter().enumerate().flat_map(|(day, hours)| {
        hours.iter().enumerate().map(move |(h, &n)| {
            let (x, y) = (h as f64, row_y(day));
            Rectangle::new(
                [(x + 0.04, y + 0.06), (x + 0.96, y + 0.94)],
                shade(n, max).filled(),
            )
        })
    }))?;
    chart.draw_series(f.duty.iter().map(|(day, start, end, _)| {
        let y = row_y(*day as usize);
        Rectangle::new(
            [
                (f64::from(*start) / 60.0, y + 0.02),
                (f64::from(*end) / 60.0, y + 0.98),
            ],
            DUTY.stroke_width(3),
        )
    }))?;
    let centre = Pos::new(HPos::Center, VPos::Center);
    for (day, hours) in f.heat.iter().enumerate() {
        for (h, &n) in hours.iter().enumerate().filter(|(_, n)| **n > 0) {
            let ink = if f64::from(n) > f64::from(max) * 0.6 {
                WHITE
            } else {
                BLACK
            };
            let style = ("sans-serif", 17).into_font().color(&ink).pos(centre);
            let at = chart.backend_coord(&(h as f64 + 0.5, row_y(day) + 0.5));
            root.draw(&Text::new(n.to_string(), at, style))?;
        }
        let at = chart.backend_coord(&(0.0, row_y(day) + 0.5));
        let style = ("sans-serif", 19)
            .into_font()
            .color(&BLACK)
            .pos(Pos::new(HPos::Right, VPos::Center));
        root.draw(&Text::new(WEEKDAYS[day], (at.0 - 8, at.1), style))?;
    }
    Ok(())
}
