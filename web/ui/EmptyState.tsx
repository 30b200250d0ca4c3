/** A page with nothing to show yet: a title and one honest sentence. */
export function EmptyState(props: { title: string; message: string }) {
  return (
    <section class="empty">
      <h1>{props.title}</h1>
      <p>{props.message}</p>
    </section>
  );
}
