//! Prints the grids and running text the PDF/DOCX front ends rebuild from a file, to compare
//! by eye with the document: `cargo run --example attachment_grids -- report.pdf`.

use gknb::report::{Table, docx, pdf};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    for path in std::env::args().skip(1) {
        let bytes = std::fs::read(&path)?;
        println!("##### {path}");
        let (tables, text) = if docx::sniff(&bytes).is_some() {
            let d = docx::extract(&bytes)?;
            (d.tables, d.text)
        } else {
            let d = pdf::extract(&bytes)?;
            println!("pages {} glyphs {}", d.pages, d.glyphs);
            (d.tables, d.text)
        };
        println!("--- text\n{text}");
        print_tables(&tables);
    }
    Ok(())
}

fn print_tables(tables: &[Table]) {
    for (i, t) in tables.iter().enumerate() {
        println!("--- table {i} (page {:?}, {} rows)", t.page, t.rows.len());
        for row in &t.rows {
            let cells: Vec<String> = row
                .cells
                .iter()
                .map(|c| {
                    let mark = if c.spanned { "^" } else { "" };
                    format!("{}:{mark}{}", c.col, c.text)
                })
                .collect();
            let r = row.cells.first().map_or(0, |c| c.row);
            println!("r{r:<3} | {}", cells.join(" | "));
        }
    }
}
