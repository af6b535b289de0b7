//! Painting a scene: sky, asphalt with noise, and the lane markings, antialiased.
//!
//! Markings are painted row by row from the same [`Scene::x_at`] the labels are sampled from,
//! with a width that shrinks with distance and is measured across the marking (the horizontal
//! extent grows with the lane's tilt). Dashes are laid out in road depth (`1 / d`), so they
//! shorten towards the horizon as real ones do.

use image::RgbImage;

use super::scene::{HEIGHT, LaneModel, Scene, WIDTH};
use crate::rng::Rng;

/// The dash period in units of road depth (`DASH_DEPTH / d` increases by 1 per dash).
const DASH_DEPTH: f64 = 3000.0;

/// Paints `scene`; `rng` supplies the background's shading and noise.
pub fn render(scene: &Scene, rng: &mut Rng) -> RgbImage {
    let mut img = RgbImage::new(WIDTH, HEIGHT);
    let asphalt = rng.uniform(70.0, 120.0);
    let sky = [rng.uniform(120.0, 190.0), rng.uniform(140.0, 200.0), rng.uniform(170.0, 230.0)];
    let noise = rng.uniform(6.0, 14.0);
    for (y, row) in img.rows_mut().enumerate() {
        let y = y as f64;
        for (x, px) in row.enumerate() {
            let n = (rng.unit() - 0.5) * 2.0 * noise;
            let base = if y < scene.vy {
                let t = y / scene.vy;
                [sky[0] * (1.0 - 0.3 * t), sky[1] * (1.0 - 0.2 * t), sky[2]]
            } else {
                // Darker near the camera, with a faint wear track along the middle of the lane.
                let d = (y - scene.vy) / (f64::from(HEIGHT) - scene.vy);
                let track = ((x as f64 - scene.vx) / (40.0 + 200.0 * d)).sin() * 4.0;
                let g = asphalt * (1.1 - 0.2 * d) + track;
                [g, g, g * 1.03]
            };
            px.0 = base.map(|c| (c + n).clamp(0.0, 255.0) as u8);
        }
    }
    for lane in &scene.lanes {
        paint_lane(&mut img, scene, lane, rng.unit());
    }
    img
}

fn paint_lane(img: &mut RgbImage, scene: &Scene, lane: &LaneModel, dash_phase: f64) {
    let bottom = f64::from(HEIGHT) - scene.vy;
    for y in 0..HEIGHT {
        let yf = f64::from(y);
        let Some(xc) = scene.x_at(lane, yf) else { continue };
        let d = yf - scene.vy;
        if lane.dashed && (DASH_DEPTH / d + dash_phase).fract() >= 0.5 {
            continue;
        }
        let width = (lane.width_bottom * d / bottom).max(1.0);
        let half = width / 2.0 * (1.0 + scene.dx_dy(lane, yf).powi(2)).sqrt();
        let lo = (xc - half - 1.0).floor().max(0.0) as u32;
        let hi = (xc + half + 1.0).ceil().min(f64::from(WIDTH - 1)) as u32;
        for x in lo..=hi {
            let cover = (half + 0.5 - (f64::from(x) - xc).abs()).clamp(0.0, 1.0);
            if cover > 0.0 {
                let px = img.get_pixel_mut(x, y);
                for (c, paint) in px.0.iter_mut().zip(lane.color) {
                    *c = (f64::from(*c) * (1.0 - cover) + f64::from(paint) * cover).round() as u8;
                }
            }
        }
    }
}
