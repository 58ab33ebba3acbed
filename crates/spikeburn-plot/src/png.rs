//! Rasterising the drawn SVG with resvg, text set in the bundled Noto Sans.

use std::sync::{Arc, OnceLock};

use resvg::tiny_skia::{Pixmap, Transform};
use resvg::usvg::{self, fontdb};

use crate::PlotError;

/// The family name a font database of only Noto Sans Regular answers to.
const FALLBACK_FAMILY: &str = "Noto Sans";

/// The fonts text is set in: Noto Sans Regular from the `notosans` crate,
/// also standing in for the generic families, so that `font-family="sans-serif"`
/// (and any other family) finds it; with the family name it goes by. Built
/// once; no system font is read.
fn fonts() -> &'static (Arc<fontdb::Database>, String) {
    static FONTS: OnceLock<(Arc<fontdb::Database>, String)> = OnceLock::new();
    FONTS.get_or_init(|| {
        let mut db = fontdb::Database::new();
        db.load_font_source(fontdb::Source::Binary(Arc::new(notosans::REGULAR_TTF)));
        let family = db
            .faces()
            .next()
            .and_then(|face| face.families.first())
            .map_or(FALLBACK_FAMILY.to_string(), |(name, _)| name.clone());
        db.set_sans_serif_family(family.clone());
        db.set_serif_family(family.clone());
        db.set_monospace_family(family.clone());
        db.set_cursive_family(family.clone());
        db.set_fantasy_family(family.clone());
        (Arc::new(db), family)
    })
}

/// Renders `svg` at its own size (one pixel per SVG unit) and encodes it as PNG.
pub(crate) fn svg_to_png(svg: &str) -> Result<Vec<u8>, PlotError> {
    let (fontdb, family) = fonts();
    let options = usvg::Options {
        font_family: family.clone(),
        fontdb: fontdb.clone(),
        ..usvg::Options::default()
    };
    let tree = usvg::Tree::from_str(svg, &options).map_err(|e| PlotError::SvgParse {
        message: e.to_string(),
    })?;
    let size = tree.size().to_int_size();
    let (width, height) = (size.width(), size.height());
    let mut pixmap = Pixmap::new(width, height).ok_or(PlotError::Pixmap { width, height })?;
    resvg::render(&tree, Transform::identity(), &mut pixmap.as_mut());
    pixmap.encode_png().map_err(|e| PlotError::EncodePng {
        message: e.to_string(),
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::{Figure, LineChart, Raster, Series};

    /// Width and height of an SVG document, from its root element.
    pub(crate) fn svg_size(svg: &str) -> (u32, u32) {
        let attr = |name: &str| -> u32 {
            let rest = svg.split(&format!(" {name}=\"")).nth(1).unwrap();
            rest[..rest.find('"').unwrap()].parse().unwrap()
        };
        (attr("width"), attr("height"))
    }

    /// Width and height from a PNG's header, after checking its signature and
    /// that the first chunk is IHDR.
    pub(crate) fn png_size(png: &[u8]) -> (u32, u32) {
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n", "PNG signature");
        assert_eq!(&png[12..16], b"IHDR");
        let be = |i: usize| u32::from_be_bytes(png[i..i + 4].try_into().unwrap());
        (be(16), be(20))
    }

    /// Pixels darker than mid-grey in every channel.
    pub(crate) fn dark_pixels(png: &[u8]) -> usize {
        let pixmap = Pixmap::decode_png(png).unwrap();
        pixmap
            .pixels()
            .iter()
            .filter(|p| p.alpha() == 255 && p.red() < 110 && p.green() < 110 && p.blue() < 110)
            .count()
    }

    fn chart(title: &str) -> Figure {
        LineChart::new(
            title,
            "",
            "",
            vec![Series::new("", vec![(0.0, 0.0), (1.0, 1.0)])],
        )
        .into()
    }

    #[test]
    fn png_header_matches_the_svg_size() {
        let raster = Raster::new("raster", vec![vec![1.0; 7]; 50], 1.0).with_band(10, 20, "cue");
        for figure in [chart("chart"), raster.into()] {
            let svg = figure.to_svg().unwrap();
            let png = figure.to_png().unwrap();
            assert_eq!(png_size(&png), svg_size(&svg));
            let pixmap = Pixmap::decode_png(&png).unwrap();
            assert_eq!((pixmap.width(), pixmap.height()), svg_size(&svg));
        }
    }

    #[test]
    fn png_is_not_blank_and_its_text_renders() {
        let untitled = dark_pixels(&chart("").to_png().unwrap());
        let titled = dark_pixels(&chart("Training loss of the network").to_png().unwrap());
        // The axes and tick labels alone give over a thousand dark pixels; a
        // 28-character title at 15 px adds about 480 more, which needs a font.
        assert!(untitled > 800, "{untitled} dark pixels");
        assert!(
            titled > untitled + 250,
            "{titled} vs {untitled} dark pixels"
        );
        // The raster's ticks are black too.
        let silent = Raster::new("", vec![vec![0.0; 20]; 100], 1.0);
        let mut busy = silent.clone();
        busy.spikes[50] = vec![1.0; 20];
        let silent = dark_pixels(&Figure::from(silent).to_png().unwrap());
        let busy = dark_pixels(&Figure::from(busy).to_png().unwrap());
        assert!(busy > silent + 200, "{busy} vs {silent} dark pixels");
    }

    #[test]
    fn only_the_bundled_font_is_loaded() {
        let (db, family) = fonts();
        assert_eq!(db.len(), 1);
        assert_eq!(family, "Noto Sans");
        let query = fontdb::Query {
            families: &[fontdb::Family::SansSerif],
            ..fontdb::Query::default()
        };
        assert!(db.query(&query).is_some(), "sans-serif resolves");
    }

    #[test]
    fn unparsable_svg_is_a_typed_error() {
        let err = svg_to_png("<svg").unwrap_err();
        assert!(matches!(err, PlotError::SvgParse { .. }), "{err}");
    }
}
