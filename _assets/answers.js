// "Show all answers": one switch for instructors on every page with folded answers.
//
// The answers are sphinx-exercise solutions with `:class: dropdown`, folded by
// sphinx-togglebutton (which marks a folded one with the class `toggle-hidden`).
// The button opens or closes them all; the URL parameter ?answers=show opens
// them all when the page loads (a link to share with a class of instructors).
document.addEventListener("DOMContentLoaded", () => {
  // runs after togglebutton has folded the answers (its listener came first)
  setTimeout(() => {
    const answers = () => [...document.querySelectorAll(".solution.toggle")];
    if (answers().length === 0) return;
    const setAll = (open) => answers().forEach((answer) => {
      if (answer.classList.contains("toggle-hidden") === open) {
        answer.querySelector(".admonition-title").click(); // togglebutton
      }
    });
    const button = document.createElement("button");
    button.type = "button";
    button.className = "btn btn-sm btn-outline-secondary show-all-answers";
    const label = () => {
      const allOpen = answers().every((a) => !a.classList.contains("toggle-hidden"));
      button.textContent = allOpen ? "Hide all answers" : "Show all answers";
      return allOpen;
    };
    button.addEventListener("click", () => { setAll(!label()); label(); });
    document.addEventListener("click", () => setTimeout(label, 0));
    const title = document.querySelector("article h1");
    if (title) title.after(button); else document.body.prepend(button);
    if (new URLSearchParams(location.search).get("answers") === "show") {
      setAll(true);
    }
    label();
  }, 0);
});
